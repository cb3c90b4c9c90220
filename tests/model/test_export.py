"""Export: rows per packet to CSV / JSON Lines / Parquet, read back and held against summary."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
from support.events import T0, iso, packet, table_dir, write_parquet

from orcatui.model.export import FIXED_COLUMNS, export, plan_export
from orcatui.model.monitor import Monitor
from orcatui.model.report import build_report

NOW = T0 + 3600
HOSTILE = '=1+2 | # * [x](javascript:alert(1)) <script> `x` "q",\n\u202etail'


def build_root(root):
    """etl: clean (tag subject + a tag named 'duration_s'), fit (tags model,
    and 'node'); run r1 crashed (record
    heartbeat stopped), run r2 newest with a FAILED packet. other: one orcapod-style run."""
    clean = (
        packet("r1", T0, T0 + 1, "SUCCESS", subject="a", duration_s="x")
        + packet("r1", T0 + 1, None, "", subject="b", duration_s="y")
        + packet("r2", T0 + 100, T0 + 101, "SUCCESS", subject="a", duration_s="x")
        + packet("r2", T0 + 100, T0 + 102, "FAILED", "ValueError: no\nsecond line", subject="b")
        + packet("r2", T0 + 103, T0 + 103, "CACHED", subject=HOSTILE, duration_s="z")
    )
    write_parquet(table_dir(root, "etl", ("clean", "v0")), clean)
    fit = packet("r1", T0 + 2, T0 + 3, "SUCCESS", model="m1", node="n1") + packet(
        "r2", T0 + 110, None, "", model="m2"
    )
    write_parquet(table_dir(root, "etl", ("fit", "v0")), fit)
    runs = root / "etl" / "_runs"
    runs.mkdir(parents=True)
    for run, beat, ended in (("r1", T0 + 5, None), ("r2", T0 + 110, T0 + 200)):
        (runs / f"{run}.json").write_text(
            json.dumps(
                {
                    "run_id": run,
                    "host": "elsewhere",
                    "pid": 1,
                    "started_at": iso(T0 if run == "r1" else T0 + 100),
                    "heartbeat_at": iso(beat),
                    "ended_at": None if ended is None else iso(ended),
                    "outcome": None if ended is None else "failed",
                    "nodes": {"clean/v0": {"label": "Cleaning"}},
                }
            )
        )
    other = packet("o1", T0, T0 + 1, "SUCCESS", item="1") + packet("o1", T0, None, "", item="2")
    write_parquet(table_dir(root, "other", ("load",)), other)
    return root


@pytest.fixture
def monitor(tmp_path):
    m = Monitor(build_root(tmp_path), clock=lambda: NOW)
    m.refresh()
    return m


def read_back(fmt: str, data: bytes) -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    if fmt == "jsonl":
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]
    return pq.read_table(io.BytesIO(data)).to_pylist()


def run_export(monitor, fmt, **kw) -> tuple[list[dict], bytes]:
    buf = io.BytesIO()
    n = export(monitor, fmt, buf, now=NOW, **kw)
    rows = read_back(fmt, buf.getvalue())
    assert len(rows) == n
    return rows, buf.getvalue()


def counts_by_pipeline(rows) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for r in rows:
        out.setdefault(r["pipeline"], Counter())[r["state"]] += 1
    return out


def report_counts(report) -> dict[str, Counter]:
    return {
        "/".join(p["name"]): Counter({s: n for s, n in p["counts"].items() if n})
        for p in report["pipelines"]
    }


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize(
    "scope", [{}, {"run_id": "r1"}, {"run_id": "r2"}, {"all_runs": True}], ids=str
)
def test_round_trip_counts_equal_the_summary(monitor, fmt, scope):
    rows, _ = run_export(monitor, fmt, **scope)
    report = build_report(
        monitor, run_id=scope.get("run_id"), all_runs=scope.get("all_runs", False), now=NOW
    )
    assert counts_by_pipeline(rows) == report_counts(report)
    assert rows, "the scenario exports something"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_columns_fixed_then_union_of_tags_with_clash_suffix(monitor, fmt):
    rows, _ = run_export(monitor, fmt)
    assert list(rows[0]) == [
        *FIXED_COLUMNS,
        "subject",
        "duration_s (tag)",
        "model",
        "node (tag)",
        "item",
    ]
    clean = [r for r in rows if r["node"] == "Cleaning"]
    fit = [r for r in rows if r["node"] == "fit"]
    assert {r["duration_s (tag)"] for r in clean if r["subject"] == "a"} == {"x"}
    empty = "" if fmt == "csv" else None
    assert all(r["model"] == empty for r in clean) and all(r["subject"] == empty for r in fit)


def test_values_in_jsonl_and_parquet_are_exact(monitor):
    for fmt in ("jsonl", "parquet"):
        rows, _ = run_export(monitor, fmt, run_id="r2")
        by_state = {r["state"]: r for r in rows if r["pipeline"] == "etl"}
        assert by_state["CACHED"]["subject"] == HOSTILE
        assert by_state["FAILED"]["error"] == "ValueError: no\nsecond line"
        assert by_state["FAILED"]["duration_s"] == pytest.approx(2.0)
        ended = by_state["FAILED"]["ended"]
        text = ended if fmt == "jsonl" else ended.isoformat().replace("+00:00", "Z")
        assert text.startswith(iso(T0 + 102)[:19]) and text.endswith("Z")
        assert by_state["LOST"]["ended"] is None  # fit's packet of r2: the run ended first


def test_lost_rows_carry_the_reason(monitor):
    rows, _ = run_export(monitor, "jsonl", run_id="r1")
    (lost,) = [r for r in rows if r["state"] == "LOST"]
    assert lost["subject"] == "b" and lost["ended"] is None
    assert lost["lost_reason"].startswith("heartbeat stopped")
    assert lost["started"].startswith(iso(T0 + 1)[:19])


def test_csv_guards_formulas_but_keeps_text(monitor):
    rows, _ = run_export(monitor, "csv", run_id="r2")
    cached = next(r for r in rows if r["state"] == "CACHED")
    assert cached["subject"] == "'" + HOSTILE
    buf = io.BytesIO()
    export(monitor, "csv", buf, run_id="r2", now=NOW, states=["cached"])
    (raw,) = read_back("csv", buf.getvalue())
    assert raw["subject"] == "'" + HOSTILE
    buf = io.BytesIO()
    plan = plan_export(monitor, run_id="r2", states=["CACHED"], now=NOW)
    from orcatui.model.export import export_batches, write_csv

    write_csv(plan, export_batches(monitor, plan), buf, formula_guard=False)
    (unguarded,) = read_back("csv", buf.getvalue())
    assert unguarded["subject"] == HOSTILE


def test_node_filter_by_label_or_function_and_state_filter(monitor):
    rows, _ = run_export(monitor, "jsonl", nodes=["Cleaning"])
    assert {r["node"] for r in rows} == {"Cleaning"}
    rows2, _ = run_export(monitor, "jsonl", nodes=["clean"])
    assert rows2 == rows
    rows, _ = run_export(monitor, "jsonl", all_runs=True, states=["failed", "LOST"])
    assert Counter(r["state"] for r in rows) == Counter({"LOST": 3, "FAILED": 1})
    # Only the tags of the nodes exported become columns.
    rows, _ = run_export(monitor, "jsonl", nodes=["fit"])
    assert list(rows[0])[len(FIXED_COLUMNS) :] == ["model", "node (tag)"]


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"nodes": ["nope"]}, "no node named 'nope' (nodes: "),
        ({"states": ["DONE"]}, "unknown state 'DONE'"),
        ({"run_id": "zzz"}, "no run 'zzz'"),
    ],
)
def test_bad_selection_is_a_one_line_error_before_writing(monitor, kw, needle):
    buf = io.BytesIO()
    with pytest.raises(ValueError) as err:
        export(monitor, "csv", buf, now=NOW, **kw)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert buf.getvalue() == b""


def test_unknown_format(monitor):
    with pytest.raises(ValueError, match="unknown format 'xlsx'"):
        export(monitor, "xlsx", io.BytesIO())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_nothing_to_export_still_writes_a_readable_file(monitor, fmt, tmp_path):
    out = tmp_path / f"x.{fmt}"
    assert export(monitor, fmt, out, states=["CACHED"], run_id="r1", now=NOW) == 0
    if fmt == "csv":
        assert out.read_text().splitlines()[0].startswith('"pipeline","node"')
    else:
        assert pq.read_table(out).num_rows == 0


def test_orcapod_samples_round_trip(orcapod_sample):
    for name in ("ok", "failures", "multi_tag"):
        m = Monitor(orcapod_sample(name))
        m.refresh()
        rows, _ = run_export(m, "parquet", all_runs=True)
        now = m.clock()
        report = build_report(m, all_runs=True, now=now)
        assert counts_by_pipeline(rows) == report_counts(report), name
