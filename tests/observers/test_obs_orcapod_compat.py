"""A real orcapod 0.1.4 PipelineJob observed by our observers and by orcapod's own."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from support.observers import read_tables, reader_has_writer_records, state_counts

orcapod = pytest.importorskip("orcapod")
pytestmark = pytest.mark.orcapod

FAILING = {"s3", "s5", "s7"}


def _build_job(store):  # type: ignore[no-untyped-def]
    import pyarrow as pa
    from orcapod import PipelineJob, function_pod
    from orcapod.sources import ArrowTableSource

    log = logging.getLogger("compat_demo")

    @function_pod(output_keys="norm")
    def normalize_signal(raw_value: float) -> float:
        print("normalizing", raw_value)
        return raw_value / 10.0

    @function_pod(output_keys="score")
    def compute_score(norm: float) -> float:
        log.warning("scoring %s", norm)
        if round(norm * 10) in (3, 5, 7):
            raise ValueError(f"cannot score\nnorm={norm}")
        return norm * 2

    @function_pod(output_keys="cls")
    def classify_score(score: float) -> str:
        return "high" if score > 1 else "low"

    schema = pa.schema(
        [
            pa.field("subject_id", pa.large_string(), nullable=False),
            pa.field("raw_value", pa.float64(), nullable=False),
        ]
    )
    data = pa.table(
        {"subject_id": [f"s{i}" for i in range(10)], "raw_value": [float(i) for i in range(10)]},
        schema=schema,
    )
    src = ArrowTableSource(data, tag_columns=["subject_id"])
    job = PipelineJob(name=("lab", "compat"), store=store)
    with job:
        n = normalize_signal.pod(src, label="normalize")
        s = compute_score.pod(n, label="score")
        classify_score.pod(s, label="classify")
    return job


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_counts_match_orcapods_own_observers(tmp_path: Path, sink: str) -> None:
    from orcapod.databases import InMemoryArrowDatabase
    from orcapod.pipeline.composite_observer import CompositeObserver as OrcaComposite
    from orcapod.pipeline.status_observer import StatusObserver as OrcaStatus

    import observers

    store = InMemoryArrowDatabase()
    theirs_db = InMemoryArrowDatabase()
    theirs = OrcaStatus(status_database=theirs_db.at("lab", "compat", "_status"))
    root = tmp_path / "root"
    ours = observers.CompositeObserver(
        observers.LoggingObserver(root, sink=sink), observers.StatusObserver(root, sink=sink)
    )
    job = _build_job(store)
    # orcapod's own composite drives both: ours must behave under it too
    job.run(observer=OrcaComposite(ours, theirs))
    ours.close()

    their_table = theirs.get_status()
    assert their_table is not None
    # orcapod's rows: the node is the first identity component, from the table source path
    their_counts: dict[str, Counter[str]] = {}
    for src in theirs_db.at("lab", "compat", "_status").list_sources():
        t = theirs_db.at("lab", "compat", "_status").get_all_records(src)
        if t is not None and t.num_rows:
            their_counts[src[0]] = state_counts(t)

    status = read_tables(root, "execution_status")
    our_counts: dict[str, Counter[str]] = {}
    for path, t in status.items():
        rel = Path(path).relative_to(root).parts
        assert rel[:3] == ("lab", "compat", "_status")
        our_counts[rel[3]] = state_counts(t)
        cols = t.column_names
        assert cols[cols.index("_status_id") :][:6] == [
            "_status_id",
            "_status_run_id",
            "_status_pipeline_uri",
            "_status_state",
            "_status_timestamp",
            "_status_error_summary",
        ]
        assert set(t.column("_status_pipeline_uri").to_pylist()) == {
            their_table.column("_status_pipeline_uri")[0].as_py()
        }
    assert our_counts == their_counts

    # orcatui's own reader and rules give the same per-node counts, labels from the run record.
    from orcatui.model.monitor import Monitor

    monitor = Monitor(root)
    assert monitor.refresh().problems == []
    (pipeline,) = monitor.snapshot().pipelines
    assert pipeline.name == ("lab", "compat")
    read_back = {
        n.name.function: Counter({s: c for s, c in n.counts.items() if c}) for n in pipeline.nodes
    }
    assert read_back == their_counts
    if reader_has_writer_records():  # liveness and labels come from the run record
        assert pipeline.run is not None and pipeline.run.verdict.liveness.value == "ended"
        assert {n.name.title for n in pipeline.nodes} == {"normalize", "score", "classify"}
    assert our_counts["compute_score"] == Counter({"SUCCESS": 7, "FAILED": 3})
    assert our_counts["classify_score"] == Counter({"SUCCESS": 7})

    failed = [r for t in status.values() for r in t.to_pylist() if r["_status_state"] == "FAILED"]
    assert {r["subject_id"] for r in failed} == FAILING
    assert all(r["_status_error_summary"].startswith("cannot score\nnorm=") for r in failed)

    logs = read_tables(root, "execution_logs")
    score_logs = [r for p, t in logs.items() if "compute_score" in p for r in t.to_pylist()]
    assert len(score_logs) == 10
    bad = [r for r in score_logs if not r["_log_success"]]
    assert {r["subject_id"] for r in bad} == FAILING
    assert all("ValueError: cannot score" in r["_log_traceback"] for r in bad)
    assert all("WARNING:compat_demo:scoring" in r["_log_python_logs"] for r in score_logs)
    norm_logs = [r for p, t in logs.items() if "normalize_signal" in p for r in t.to_pylist()]
    assert all(r["_log_stdout_log"].startswith("normalizing") for r in norm_logs)

    records = list(root.rglob("_runs/*/*.json"))
    assert len(records) == 1
    rec = observers.read_run_record(records[0])
    assert rec is not None and rec["outcome"] == "completed"
    assert {v["label"] for v in rec["nodes"].values()} >= {"normalize", "score", "classify"}

    if sink == "delta":
        from orcapod.pipeline.observability_reader import ObservabilityReader

        reader = ObservabilityReader(root)
        assert set(reader.nodes) == {"normalize_signal", "compute_score", "classify_score"}
        df = reader.status()
        got = Counter(zip(df["node_label"].to_list(), df["state"].to_list(), strict=True))
        assert got[("compute_score", "FAILED")] == 3
        assert got[("compute_score", "SUCCESS")] == 7
        assert got[("classify_score", "SUCCESS")] == 7
        assert "subject_id" in reader.tag_columns


def test_orcapods_reader_reads_partial_log_rows(tmp_path: Path) -> None:
    """Partial log rows (a packet still running, or killed) keep orcapod's reader working."""
    import time

    from orcapod.pipeline.observability_reader import ObservabilityReader

    import observers
    from observers import capture

    status = observers.StatusObserver(tmp_path, sink="delta", flush_interval=0.02)
    logs = observers.LoggingObserver(tmp_path, sink="delta", flush_interval=0.02)
    obs = observers.CompositeObserver(logs, status)
    obs.on_run_start("run-p", pipeline_uri="lab/partial@abc")
    node = obs.contextualize("fit")
    node.on_node_start("fit", "h", tag_schema={"subject_id": "str"})
    log_node = node.observers[0]
    capture.install()
    try:
        for sid, finish in (("s1", True), ("s2", False)):
            node.on_data_start("fit", {"subject_id": sid}, None)
            with capture.PacketCapture() as cap:
                logger = log_node.live_logger({"subject_id": sid}, cap)
                print("working on", sid)
                deadline = time.monotonic() + 10
                while logs.stats["events_written"] < (1 if sid == "s1" else 3):
                    assert time.monotonic() < deadline, "no partial row written"
                    time.sleep(0.02)
            if finish:
                logger.record(**cap.fields())
                node.on_data_end("fit", {"subject_id": sid}, None, None, False)
    finally:
        capture.uninstall()
    obs.close()  # s2 never ends: its partial row is what is left, as after a SIGKILL

    reader = ObservabilityReader(tmp_path)
    assert reader.nodes == ["fit"]
    st = reader.status()
    assert dict(zip(st["subject_id"].to_list(), st["state"].to_list(), strict=True)) == {
        "s1": "SUCCESS",
        "s2": "RUNNING",
    }
    rows = reader.logs("fit").sort("timestamp").to_dicts()
    s1 = [r for r in rows if r["subject_id"] == "s1"]
    s2 = [r for r in rows if r["subject_id"] == "s2"]
    assert [r["success"] for r in s1] == [None, True]  # Delta is not compacted
    assert s1[-1]["stdout_log"] == "working on s1\n"
    assert [r["success"] for r in s2] == [None] and s2[0]["stdout_log"] == "working on s2\n"
