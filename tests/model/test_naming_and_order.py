"""Pipeline and node names (``--job``, root-level stores) and THE packet order (issue 9 bugs)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import T0, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.naming import labels_from_job, pipeline_display_name, pipeline_name_parts
from orcatui.model.report import build_report
from orcatui.model.views import _py_keys, _ranks, order_rows
from orcatui.store.discovery import TableKind, TableRef
from orcatui.store.normalize import normalise_status
from orcatui.store.store import StoreUpdate
from orcatui.summary_text import render

_ORCAPOD_JOB = r"""
import sys
from pathlib import Path

import pyarrow as pa
from orcapod import PipelineJob, function_pod
from orcapod.databases import DeltaTableDatabase
from orcapod.pipeline.status_observer import StatusObserver
from orcapod.sources import ArrowTableSource

root, name, twice = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"


@function_pod(output_keys="x")
def bump(x: int) -> int:
    return x + 1


schema = pa.schema(
    [pa.field("subject_id", pa.large_string(), nullable=False), pa.field("x", pa.int64(), False)]
)
data = pa.table({"subject_id": ["a", "b"], "x": [1, 2]}, schema=schema)
src = ArrowTableSource(data, tag_columns=["subject_id"])
db = DeltaTableDatabase(str(root / "store"))
job = PipelineJob(name=(name,), store=db)
with job:
    first = bump.pod(src, label=f"{name}-first")
    if twice:
        bump.pod(first, label=f"{name}-second")
job.run(observer=StatusObserver(status_database=db.at(name, "_status")))
job.save(str(root / f"{name}.job.json"))
"""


@pytest.mark.orcapod
def test_job_labels_one_function_used_twice_and_across_job_files(tmp_path):
    pytest.importorskip("orcapod")
    script = tmp_path / "job.py"
    script.write_text(_ORCAPOD_JOB)
    for name, twice in (("twice", "1"), ("other", "0")):
        subprocess.run([sys.executable, str(script), str(tmp_path), name, twice], check=True)
    jobs = [tmp_path / "twice.job.json", tmp_path / "other.job.json"]
    m = Monitor(tmp_path / "store", job_files=jobs)
    m.refresh()
    titles = {p.display_name: sorted(n.name.title for n in p.nodes) for p in m.snapshot().pipelines}
    # before: node_uri keys made both "twice" nodes "twice-second", then "other-first"
    assert titles == {"other": ["other-first"], "twice": ["twice-first", "twice-second"]}


def test_job_labels_keyed_by_pipeline_hash_and_pipeline_name():
    job = labels_from_job(Path(__file__).parents[1] / "fixtures" / "orcapod" / "failures.job.json")
    assert job.pipeline == ("failures_pipeline",)
    full = [k for k in job.labels if k[-1].startswith("schema:")]
    assert len(full) == 4 and job.labels[full[0]] in {"normalize", "score", "classify", "summarize"}


def test_pipeline_name_parts():
    assert pipeline_name_parts(("lab", "p"), "x@1", "/r") == ("lab", "p")
    assert pipeline_name_parts((), "lab_a/multi@0123456789abcdef", "/data/root") == (
        "lab_a",
        "multi",
    )
    assert pipeline_name_parts((), "", "/data/root/") == ("root",)
    assert pipeline_name_parts((), None, "/") == ("/",)
    assert pipeline_display_name((), "@abc", "/data/db") == "db"


def _root_level_monitor(tmp_path: Path, uri: str) -> Monitor:
    """A store whose status sits directly under the root (what ``db.at("_status")`` writes)."""
    rows = packet("r1", T0, T0 + 1, "FAILED", error="bad", uri=uri, subject="a")
    path = write_status(tmp_path, (), ("fn",), rows).parent
    ref = TableRef(TableKind.STATUS, (), ("fn",), path)
    m = Monitor(tmp_path)
    table = pa.Table.from_pylist(rows)
    m.apply(StoreUpdate(status=[(ref, normalise_status(table).table)], new_tables=[ref]))
    return m


@pytest.mark.parametrize(("uri", "expected"), [("lab/etl@0123", ["lab", "etl"]), ("", None)])
def test_root_level_store_gets_a_name_in_the_summary(tmp_path, uri, expected):
    m = _root_level_monitor(tmp_path, uri)
    report = build_report(m, now=T0 + 5)
    name = report["pipelines"][0]["name"]
    assert name == (expected or [tmp_path.name])
    text = render(report)
    assert f"pipeline {'/'.join(name)}\n" in text
    assert "pipeline \n" not in text


# -- one packet order --------------------------------------------------------------------------


def _order_after_loads(tmp_path: Path, values: list[str], batches: int) -> list[str]:
    """Write the packets in shuffled batches (one Parquet file per batch), load, list them."""
    rnd = random.Random(batches)
    shuffled = values[:]
    rnd.shuffle(shuffled)
    size = -(-len(shuffled) // batches)
    m = Monitor(tmp_path)
    for i in range(0, len(shuffled), size):
        rows = [r for v in shuffled[i : i + size] for r in packet("r1", T0, T0 + 1, "SUCCESS", n=v)]
        write_status(tmp_path, "etl", ("fn",), rows)
        m.refresh()  # one fold per batch: small folds go through the incremental path
    (p,) = m.snapshot(now=T0 + 5).pipelines
    return [r["n"] for r in m.packet_rows(p.nodes[0].key, now=T0 + 5).to_pylist()]


@pytest.mark.parametrize("batches", [1, 2, 5])
def test_numeric_tags_sort_as_numbers_however_loaded(tmp_path, batches):
    assert _order_after_loads(tmp_path, ["0", "1", "2", "10", "11"], batches) == [
        "0",
        "1",
        "2",
        "10",
        "11",
    ]


@pytest.mark.parametrize("batches", [1, 3])
def test_text_tags_sort_naturally_however_loaded(tmp_path, batches):
    values = ["s10", "s2", "s1", "t", "s02"]
    assert _order_after_loads(tmp_path, values, batches) == ["s1", "s02", "s2", "s10", "t"]


def test_large_and_small_tables_order_alike():
    values = [f"s{i}" for i in range(3000)] + [str(i) for i in range(5)]
    t = pa.table({"run_id": ["r"] * len(values), "tag:n": values})
    big = order_rows(t).column("tag:n").to_pylist()  # vectorised path (> 2000 rows)
    small = order_rows(t.slice(0, 1500)).column("tag:n").to_pylist()  # Python path
    assert big[:5] == ["0", "1", "2", "3", "4"] and big[5:8] == ["s0", "s1", "s2"]
    assert [v for v in big if v in set(small)] == small


CHARS = st.sampled_from(["0", "1", "9", "s", "-", ".", "e", "n", "a", "i", " ", "_", "١", "N"])
VALUES = st.lists(st.one_of(st.none(), st.text(CHARS, max_size=5)), min_size=1, max_size=10)


@settings(max_examples=400)
@given(VALUES)
def test_arrow_and_python_orders_agree(values):
    ranks = _ranks(pa.array(values, pa.string()))
    arrow = [v for _, v in sorted(zip(ranks, values, strict=True), key=lambda t: t[0])]
    keys = _py_keys(values)
    python = [values[i] for i in sorted(range(len(values)), key=keys.__getitem__)]
    assert arrow == python


@settings(max_examples=200)
@given(VALUES, st.sampled_from(["r", None]), st.sampled_from(["x", None, 0.0, -0.0]))
def test_small_order_with_constant_columns_is_the_full_key_order(values, run, const):
    """Columns of one value are left out of the Python sort; the order is the full key's."""
    n = len(values)
    t = pa.table({"run_id": pa.array([run] * n, pa.string()), "tag:c": [const] * n})
    t = t.append_column("tag:v", pa.array(values, pa.string()))
    t = t.append_column("tag:z", pa.array([0.0, -0.0] * (n // 2) + [0.0] * (n % 2)))
    columns = [t.column(c).to_pylist() for c in ["tag:c", "tag:v", "tag:z", "run_id"]]
    keys = list(zip(*[_py_keys(v) for v in columns], strict=True))
    expected = sorted(range(n), key=keys.__getitem__)
    got = order_rows(t.append_column("i", pa.array(range(n)))).column("i").to_pylist()
    assert got == expected
