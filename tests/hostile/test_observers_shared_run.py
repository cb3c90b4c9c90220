"""Issue 8 item 3 (writer side): two processes sharing one run id keep one record each.

Real writer processes: one ends its part of the run, the other keeps running (heartbeat
going, its packet RUNNING); both records are on disk as the BRIEF's contract says, and the
second one's SIGTERM handling closes only its own record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.observers import REPO, reader_has_writer_records

RUN_ID = "shared-run-1"
HEARTBEAT = 0.1

CHILD = rf"""
import os, sys, time
import observers
root, who, mode, ready = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with observers.run(root, pipeline="shared", run_id={RUN_ID!r}, flush_interval=0.05,
                   heartbeat_interval={HEARTBEAT!r}) as run:
    with run.node("work", total=4 if who == "a" else 6) as node:
        with node.packet(who=who, i=0):
            print("working", who)
        if mode == "linger":
            with node.packet(who=who, i=1):
                open(ready, "w").close()
                while True:
                    time.sleep(0.05)
open(ready, "w").close()
"""


def records(root: Path) -> dict[str, dict]:
    """This run's records by file name."""
    out = {}
    for f in sorted((root / "shared" / "_runs" / RUN_ID).glob("*.json")):
        if not f.name.startswith("."):
            out[f.name] = json.loads(f.read_text())
    return out


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None or path.exists(), "writer died"
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.02)


def test_two_writers_one_run_id_keep_their_own_records(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = tmp_path / "root"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ready_b = tmp_path / "b.ready"
    ready_a = tmp_path / "a.ready"
    b = subprocess.Popen(
        [sys.executable, str(script), str(root), "b", "linger", str(ready_b)], env=env
    )
    try:
        wait_for(ready_b, b)
        a = subprocess.run(
            [sys.executable, str(script), str(root), "a", "end", str(ready_a)],
            env=env,
            timeout=60,
        )
        assert a.returncode == 0 and ready_a.exists()

        recs = records(root)
        assert len(recs) == 2, recs
        assert not (root / "shared" / "_runs" / f"{RUN_ID}.json").exists()
        by_pid = {r["pid"]: (name, r) for name, r in recs.items()}
        assert b.pid in by_pid and a.args and len(by_pid) == 2
        for name, r in recs.items():
            assert r["run_id"] == RUN_ID
            assert name == r["writer_id"] + ".json"
            assert r["writer_id"].split("-")[-2] == str(r["pid"])
            assert not r["writer_id"].startswith((".", "_"))
        name_b, rec_b = by_pid[b.pid]
        (name_a, rec_a) = next(v for p, v in by_pid.items() if p != b.pid)
        # the writer that left the run closed its own record only
        assert rec_a["ended_at"] is not None and rec_a["outcome"] == "completed"
        assert rec_b["ended_at"] is None and rec_b["outcome"] is None
        assert rec_a["nodes"]["work"]["total"] == 4
        assert rec_b["nodes"]["work"]["total"] == 6

        # the lingering writer's heartbeat keeps going after the other one ended
        first_beat = rec_b["heartbeat_at"]
        deadline = time.monotonic() + 10
        while records(root)[name_b]["heartbeat_at"] == first_beat:
            assert time.monotonic() < deadline, "heartbeat stopped"
            time.sleep(HEARTBEAT / 2)
        assert records(root)[name_b]["ended_at"] is None
        assert records(root)[name_a] == rec_a  # untouched by the other writer

        if reader_has_writer_records():
            from orcatui.model.monitor import Monitor

            monitor = Monitor(root)
            monitor.refresh()
            (pipeline,) = monitor.snapshot().pipelines
            assert pipeline.run is not None and pipeline.run.verdict.live
            assert pipeline.run.counts["RUNNING"] == 1 and pipeline.run.counts["LOST"] == 0

        # SIGTERM: the lingering writer closes its own record as interrupted, and dies of it
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=30) == -signal.SIGTERM
        final = records(root)
        assert final[name_b]["outcome"] == "interrupted" and final[name_b]["ended_at"]
        assert final[name_a] == rec_a
    finally:
        if b.poll() is None:
            b.kill()
            b.wait()


def test_record_file_names_are_safe_for_any_run_id(tmp_path: Path) -> None:
    import observers

    run = observers.run(tmp_path, pipeline="p", run_id="../../etc/x", logs=False)
    with run, run.node("n", total=3):
        pass
    (path,) = [p for p in tmp_path.rglob("*.json") if not p.name.startswith(".")]
    rel = path.relative_to(tmp_path).parts
    assert rel[:2] == ("p", "_runs") and len(rel) == 4
    assert rel[2] == "%2E._.._etc_x"  # not hidden, no separators
    rec = json.loads(path.read_text())
    assert rec["run_id"] == "../../etc/x" and rel[3] == rec["writer_id"] + ".json"
    assert rec["nodes"]["n"]["total"] == 3


@pytest.mark.parametrize("bad", [-1, 2.5, "200", True, float("nan"), 2**60])
def test_a_bad_total_is_ignored_with_a_warning(
    tmp_path: Path, bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    import observers

    run = observers.run(tmp_path, pipeline="p", logs=False)
    with run, run.node("n", total=bad) as node:  # type: ignore[arg-type]
        node.set_total(7)
        node.set_total(bad)  # type: ignore[arg-type]
    (path,) = [p for p in tmp_path.rglob("*.json") if not p.name.startswith(".")]
    assert json.loads(path.read_text())["nodes"]["n"]["total"] == 7
    assert any("is not a non-negative integer" in r.getMessage() for r in caplog.records)
