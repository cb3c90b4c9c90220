"""Run records as the writer keeps them: every rewrite carries a fresh heartbeat."""

from __future__ import annotations

import json
import time
from pathlib import Path

from observers.runrecord import RunRecords


def test_a_node_rewrite_refreshes_the_heartbeat(tmp_path: Path) -> None:
    """A reader measures the writer's clock offset as the object's modification time minus
    ``heartbeat_at``; a rewrite that kept an old ``heartbeat_at`` would fake an offset."""
    errors: list[str] = []
    records = RunRecords(str(tmp_path), heartbeat_interval=3600, on_error=errors.append)
    records.start("run-1", "pipe", ("pipe",))
    path = records.path_for(("pipe",), "run-1")
    first = json.loads(Path(path).read_text())["heartbeat_at"]
    time.sleep(0.01)
    records.node("run-1", ("clean",), "clean", "h1", ["sample"])
    record = json.loads(Path(path).read_text())
    records.end_all("completed")
    assert "clean" in record["nodes"]
    assert record["heartbeat_at"] > first
    assert errors == []
