"""``orcatui export`` round trips through the real CLI: CSV, JSONL and Parquet read back equal
to ``summary --json``'s counts; filters; bad input is one line and exit 2, nothing written."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support.events import T0, packet, table_dir, write_parquet

SAMPLES = Path(__file__).parents[1] / "fixtures" / "orcapod"


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


@pytest.fixture
def store(tmp_path):
    """Two runs of one pipeline, two nodes; a tag named like a fixed column; a formula cell."""
    clean = packet("r1", T0, T0 + 1, "SUCCESS", subject="a", node="x")
    clean += packet("r1", T0, T0 + 2, "FAILED", "=HYPERLINK(1)", subject="b", node="y")
    clean += packet("r2", T0 + 100, T0 + 101, "SUCCESS", subject="a", node="x")
    clean += packet("r2", T0 + 100, T0 + 102, "CACHED", subject="b", node="y")
    clean += packet("r2", T0 + 100, None, "", subject="c", node="z")
    write_parquet(table_dir(tmp_path, "etl", ("clean",)), clean)
    fit = packet("r2", T0 + 103, T0 + 104, "FAILED", "boom", model="m1")
    fit += packet("r2", T0 + 103, T0 + 105, "SUCCESS", model="m2")
    write_parquet(table_dir(tmp_path, "etl", ("fit",)), fit)
    return tmp_path


def summary_counts(root: Path, *extra: str) -> Counter:
    rep = json.loads(run("summary", str(root), "--json", *extra).stdout)
    out: Counter = Counter()
    for p in rep["pipelines"]:
        for n in p["nodes"]:
            out.update({(n["name"], s): c for s, c in n["counts"].items() if c})
    return out


def counts_of(rows: list[dict]) -> Counter:
    return Counter((r["node"], r["state"]) for r in rows)


@pytest.mark.parametrize("scope", [(), ("--run", "r1"), ("--all-runs",)])
def test_three_formats_equal_summary_counts(store, tmp_path, scope):
    want = summary_counts(store, *scope)
    assert sum(want.values()) > 0
    r = run("export", str(store), "--format", "csv", *scope)
    assert r.returncode == 0, r.stderr
    got_csv = list(csv.DictReader(io.StringIO(r.stdout.decode())))
    r = run("export", str(store), "--format", "jsonl", *scope)
    got_jsonl = [json.loads(line) for line in r.stdout.decode().splitlines()]
    out = tmp_path / "x.parquet"
    r = run("export", str(store), "-o", str(out), *scope)  # format from the suffix
    assert r.returncode == 0, r.stderr
    assert b"row(s) written to" in r.stderr
    got_pq = pq.read_table(out).to_pylist()
    for rows in (got_csv, got_jsonl, got_pq):
        assert counts_of(rows) == want
    assert len(got_csv) == len(got_jsonl) == len(got_pq)


def test_columns_tags_and_formula_guard(store, tmp_path):
    r = run("export", str(store), "--format", "csv", "--run", "r1")
    reader = csv.DictReader(io.StringIO(r.stdout.decode()))
    assert reader.fieldnames[:9] == [
        "pipeline", "node", "run_id", "state", "started", "ended",
        "duration_s", "error", "lost_reason",
    ]  # fmt: skip
    assert "node (tag)" in reader.fieldnames and "subject" in reader.fieldnames
    rows = {r["subject"]: r for r in reader}
    assert rows["b"]["error"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert rows["b"]["node (tag)"] == "y" and rows["b"]["state"] == "FAILED"
    out = tmp_path / "x.parquet"
    run("export", str(store), "--run", "r1", "-o", str(out))
    exact = {r["subject"]: r for r in pq.read_table(out).to_pylist()}
    assert exact["b"]["error"] == "=HYPERLINK(1)"  # Parquet keeps values exact
    assert exact["b"]["duration_s"] == pytest.approx(2.0)


def test_lost_packets_exported_with_reason(store):
    r = run("export", str(store), "--format", "jsonl", "--state", "lost")
    (row,) = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert row["state"] == "LOST" and row["subject"] == "c" and row["lost_reason"]
    assert row["ended"] is None
    # it ran from T0 + 100 until its run's last sign of life (its newest event, at T0 + 105),
    # as the app shows it: not an age that keeps growing with every later export
    assert row["duration_s"] == pytest.approx(5.0)


def test_node_and_state_filters(store):
    r = run("export", str(store), "--format", "jsonl", "--node", "fit", "--state", "FAILED")
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [(x["node"], x["model"], x["error"]) for x in rows] == [("fit", "m1", "boom")]


def test_orcapod_sample_round_trip(tmp_path):
    root = SAMPLES / "failures"
    job = str(SAMPLES / "failures.job.json")
    want = summary_counts(root, "--job", job)
    out = tmp_path / "f.parquet"
    assert run("export", str(root), "--job", job, "-o", str(out)).returncode == 0
    assert counts_of(pq.read_table(out).to_pylist()) == want


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--format", "xlsx"), "invalid choice"),
        (("--run", "nope", "--format", "csv"), "no run 'nope'"),
        (("--node", "nope", "--format", "csv"), "no node named 'nope'"),
        (("--state", "DONE", "--format", "csv"), "unknown state 'DONE'"),
        (("--at", "soon", "--format", "csv"), "not an ISO-8601 moment"),
        ((), "--format csv|jsonl|parquet is required"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(store, tmp_path, args, says):
    out = tmp_path / "out.bin"
    r = run("export", str(store), *args, "-o", str(out))
    assert r.returncode == 2
    err = r.stderr.decode()
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.bin*"))
