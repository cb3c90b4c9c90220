"""Quitting the UI mid-run: the runner stops its child cleanly (the run ends ``interrupted``)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from orcatui.demo import DemoRunner, prepare_dir
from orcatui.model.monitor import Monitor
from orcatui.model.runs import Liveness


def test_demo_stop_terminates_the_child_and_closes_its_run(tmp_path: Path) -> None:
    root = prepare_dir(tmp_path / "live")
    runner = DemoRunner(root, sink="parquet", speed=1.0, hold=6.0)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    assert runner.first_table(timeout=30.0)
    time.sleep(0.5)
    child = runner._child
    assert child is not None and child.poll() is None

    started = time.monotonic()
    runner.stop()
    thread.join(15.0)
    assert not thread.is_alive()
    assert child.poll() is not None
    assert time.monotonic() - started < 5.0  # SIGTERM sufficed, no kill timeout
    assert runner.error is None

    monitor = Monitor(root)
    monitor.refresh()
    (pipeline,) = monitor.pipelines
    (run,) = monitor.run_infos(pipeline)
    assert run.verdict.liveness is Liveness.ENDED
    assert run.outcome == "interrupted"
    assert run.counts["SUCCESS"] + run.counts["FAILED"] > 0


def test_demo_child_stops_when_the_demo_process_dies(tmp_path: Path) -> None:
    root = tmp_path / "orphan"
    parent = subprocess.Popen(
        [sys.executable, "-m", "orcatui", "demo", str(root), "--no-ui"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        runs = root / "imaging-study" / "_runs"
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not list(runs.glob("*/*.json")):
            time.sleep(0.05)
        (record,) = runs.glob("*/*.json")
    finally:
        parent.kill()
        parent.wait()
    # the orphaned child notices within a second and closes its run
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        data = json.loads(record.read_text())
        if data["ended_at"] is not None:
            break
        time.sleep(0.1)
    assert data["outcome"] == "interrupted"
