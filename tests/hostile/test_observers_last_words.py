"""Issue 13 item 5: a running packet's output reaches disk while it runs.

A real writer process prints, logs and then hangs mid-packet; it is SIGKILLed. Its last
output is on disk as a partial log row (``_log_success`` null) with the packet's run id and
tags. A packet that finishes has a final row newer than all its partial rows.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.observers import REPO

CHILD = r"""
import logging, sys, time
import observers
root, sink = sys.argv[1], sys.argv[2]
logging.getLogger().setLevel(logging.INFO)
with observers.run(root, pipeline="crashy", run_id="run-k", sink=sink, flush_interval=0.1) as run:
    with run.node("fit") as node:
        with node.packet(subject="s1"):
            print("done quickly")
        with node.packet(subject="s2"):
            print("loading s2")
            time.sleep(0.3)
            print("about to divide by zero", flush=True)
            print("oops", file=sys.stderr)
            logging.getLogger("fit").info("step 3 of 4")
            while True:
                time.sleep(0.05)
"""


def log_rows(root: Path) -> list[dict]:
    found = glob.glob(os.path.join(root, "**", "execution_logs"), recursive=True)
    if not found:
        return []
    (table_dir,) = found
    if os.path.isdir(os.path.join(table_dir, "_delta_log")):
        from deltalake import DeltaTable

        return DeltaTable(table_dir).to_pyarrow_table().to_pylist()
    files = [
        f
        for f in glob.glob(os.path.join(table_dir, "*.parquet"))
        if not os.path.basename(f).startswith((".", "_"))
    ]
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="default").to_pylist() if tables else []


def newest_for(rows: list[dict], subject: str) -> dict:
    mine = [r for r in rows if r["subject"] == subject]
    return max(mine, key=lambda r: (r["_log_timestamp"], r["_log_id"]))


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_sigkilled_packet_keeps_its_last_words(tmp_path: Path, sink: str) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = tmp_path / "root"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), sink],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        # wait until the child has printed its last words, then a little more than the
        # flush interval: the kill must not depend on the child's cooperation
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("about to divide"):
                break
        else:
            raise AssertionError("child ended early")
        deadline = time.monotonic() + 20
        while True:
            try:
                rows = log_rows(root)
                s2 = [r for r in rows if r["subject"] == "s2"]
                if s2 and "step 3 of 4" in (newest_for(rows, "s2")["_log_python_logs"] or ""):
                    break
            except (ValueError, OSError, pa.ArrowException):
                pass
            assert time.monotonic() < deadline, "no partial log row reached disk"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    rows = log_rows(root)
    last = newest_for(rows, "s2")
    assert last["_log_run_id"] == "run-k"
    assert last["_log_success"] is None and last["_log_traceback"] is None
    assert last["_log_stdout_log"] == "loading s2\nabout to divide by zero\n"
    assert last["_log_stderr_log"] == "oops\n"
    assert last["_log_python_logs"] == "INFO:fit:step 3 of 4"
    # the finished packet's newest row is its final one, not a partial one
    first = newest_for(rows, "s1")
    assert first["_log_success"] is True and first["_log_stdout_log"] == "done quickly\n"


def test_final_row_supersedes_partial_rows_and_compaction_drops_them(tmp_path: Path) -> None:
    import observers

    seen_partial: list[dict] = []
    run = observers.run(tmp_path, pipeline="p", run_id="r", flush_interval=0.02)
    with run, run.node("n") as node, node.packet(subject="a"):
        for i in range(3):
            print("line", i)
            deadline = time.monotonic() + 10
            while not any(r["_log_stdout_log"].endswith(f"line {i}\n") for r in log_rows(tmp_path)):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        seen_partial = log_rows(tmp_path)
        assert all(r["_log_success"] is None for r in seen_partial)
        assert len(seen_partial) >= 3  # one per change, never one per flush without one
    assert {r["_log_stdout_log"] for r in seen_partial} >= {
        "line 0\n",
        "line 0\nline 1\n",
        "line 0\nline 1\nline 2\n",
    }
    rows = log_rows(tmp_path)
    (final,) = rows  # compacted at run end: the partial rows are gone
    assert final["_log_success"] is True
    assert final["_log_stdout_log"] == "line 0\nline 1\nline 2\n"
    assert final["_log_timestamp"] > max(r["_log_timestamp"] for r in seen_partial)
    assert final["_log_id"] > max(r["_log_id"] for r in seen_partial)


def test_no_partial_row_without_new_output(tmp_path: Path) -> None:
    import observers

    run = observers.run(tmp_path, pipeline="p", run_id="r", flush_interval=0.02)
    with run, run.node("n") as node, node.packet(subject="quiet"):
        time.sleep(0.3)  # ~15 flush intervals, nothing printed
        assert not glob.glob(str(tmp_path / "**" / "execution_logs"), recursive=True)
    (row,) = log_rows(tmp_path)
    assert row["_log_success"] is True


def test_sigterm_mid_packet_writes_the_output_so_far(tmp_path: Path) -> None:
    """With a flush interval far longer than the run, only the SIGTERM handler can write it."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("flush_interval=0.1", "flush_interval=30"))
    root = tmp_path / "root"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root), "parquet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("about to divide"):
            break
    time.sleep(0.2)  # the logging call after the print
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    last = newest_for(log_rows(root), "s2")
    assert last["_log_success"] is None
    assert last["_log_stdout_log"].endswith("about to divide by zero\n")
    assert last["_log_python_logs"] == "INFO:fit:step 3 of 4"
