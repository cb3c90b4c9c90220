"""Last words of packets orcapod executes: our LoggingObserver under a real orcapod 0.1.4 job
writes a running packet's output as partial log rows, so a SIGKILLed packet's output is on disk
(issue 13 item 5), without doubling orcapod's own capture."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orcatui.model.monitor import Monitor

orcapod = pytest.importorskip("orcapod")
pytestmark = pytest.mark.orcapod

JOB = r"""
import logging, sys, time
import pyarrow as pa
import observers
from orcapod import PipelineJob, function_pod
from orcapod.databases import InMemoryArrowDatabase
from orcapod.sources import ArrowTableSource

root, hang = sys.argv[1], sys.argv[2] == "hang"
log = logging.getLogger("fit")

@function_pod(output_keys="out")
def fit(x: float) -> float:
    print("fitting", x, flush=True)
    if hang and x == 2.0:
        print("LAST WORDS of an orcapod packet", flush=True)
        print("oops on stderr", file=sys.stderr, flush=True)
        log.warning("about to hang")
        while True:
            time.sleep(0.05)
    return x * 2

schema = pa.schema([pa.field("subject_id", pa.large_string(), nullable=False),
                    pa.field("x", pa.float64(), nullable=False)])
data = pa.table({"subject_id": [f"s{i}" for i in range(4)], "x": [float(i) for i in range(4)]},
                schema=schema)
job = PipelineJob(name=("lab", "hang"), store=InMemoryArrowDatabase())
with job:
    fit.pod(ArrowTableSource(data, tag_columns=["subject_id"]), label="fit")
logs = observers.LoggingObserver(root, flush_interval=0.05)
obs = observers.CompositeObserver(logs, observers.StatusObserver(root, flush_interval=0.05))
job.run(observer=obs)
obs.close()
assert sys.stdout.__class__.__name__ != "TeeStream"  # our tee is gone after close
print("DONE", flush=True)
"""


def _log_rows(root: Path) -> list[dict]:
    rows = []
    for f in glob.glob(str(root / "**" / "execution_logs" / "*.parquet"), recursive=True):
        if os.path.basename(f).startswith((".", "_")):
            continue
        try:
            rows += pq.read_table(f).to_pylist()
        except Exception:  # a file being renamed into place: read it next time
            continue
    return rows


def _run(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    script = tmp_path / "job.py"
    script.write_text(JOB)
    from support.observers import REPO

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "root"), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkilled_orcapod_packet_keeps_its_last_words(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = _run(tmp_path, "hang")
    try:
        deadline = time.monotonic() + 60
        while True:
            partial = [
                r
                for r in _log_rows(root)
                if r["subject_id"] == "s2" and "LAST WORDS" in (r["_log_stdout_log"] or "")
            ]
            if partial:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no partial log row of the running packet"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert partial[-1]["_log_success"] is None and partial[-1]["_log_traceback"] is None

    m = Monitor(root)
    m.refresh()
    (pipeline,) = m.snapshot().pipelines
    (node,) = pipeline.nodes
    rows = {r["subject_id"]: r for r in m.packet_rows(node.key).to_pylist()}
    assert rows["s2"]["state"] == "LOST"  # the writer's process is gone
    last = m.details(node.key, rows["s2"]).log
    assert last is not None and last.success is None  # partial: what it printed so far
    assert "LAST WORDS of an orcapod packet" in (last.stdout or "")
    assert "oops on stderr" in (last.stderr or "")
    assert "about to hang" in (last.python_logs or "")
    for done in ("s0", "s1"):  # the packets that ended: their final rows, output once
        assert rows[done]["state"] == "SUCCESS"
        log = m.details(node.key, rows[done]).log
        assert log is not None and log.success is True
        assert log.stdout == f"fitting {float(done[1])}\n"


def test_orcapod_run_final_rows_supersede_and_output_is_captured_once(tmp_path: Path) -> None:
    proc = _run(tmp_path, "finish")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "DONE" in out
    assert out.count("fitting 1.0") == 1  # the terminal still gets each line once
    m = Monitor(tmp_path / "root")
    m.refresh()
    (pipeline,) = m.snapshot().pipelines
    (node,) = pipeline.nodes
    for r in m.packet_rows(node.key).to_pylist():
        assert r["state"] == "SUCCESS"
        log = m.details(node.key, r).log
        assert log is not None and log.success is True
        assert log.stdout == f"fitting {float(r['subject_id'][1])}\n"
