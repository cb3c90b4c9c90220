"""SIGKILL a writer at random moments: acknowledged events survive, no file is partial."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from support.observers import read_tables

FLUSH = 0.1
HEARTBEAT = 0.1

CHILD = rf"""
import os, sys, time
import observers
root, ack_path = sys.argv[1], sys.argv[2]
obs = observers.StatusObserver(root, flush_interval={FLUSH!r}, heartbeat_interval={HEARTBEAT!r})
obs.on_run_start("run-" + str(os.getpid()), pipeline_uri="crash/test@abc")
node = obs.contextualize("work", "v1")
node.on_node_start("work", "h", tag_schema={{"seq": "int"}})
ack = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
i = 0
while True:
    node.on_data_start("work", {{"seq": i}}, None)
    os.write(ack, b"%d %.6f\n" % (i, time.monotonic()))
    i += 1
    time.sleep(0.0005)
"""


def judge(record: dict, now: datetime) -> str:
    """docs/design.md §5 run liveness on a run record: ended / dead / live."""
    if record.get("ended_at"):
        return "ended"
    beat = datetime.fromisoformat(record["heartbeat_at"])
    if (now - beat).total_seconds() > 3 * float(record["heartbeat_interval_s"]):
        return "dead"
    if record.get("host") == socket.gethostname():
        pid = int(record["pid"])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "dead"
        ticks = record.get("pid_start_ticks")
        if ticks is not None:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[19]) != ticks:
                    return "dead"
            except OSError:
                return "dead"
    return "live"


def test_sigkill_loses_at_most_one_flush_interval(tmp_path: Path, python: str, child_env) -> None:
    rng = random.Random(1234)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    trials = 20
    checked = 0
    for trial in range(trials):
        root = tmp_path / f"root{trial}"
        ack = tmp_path / f"ack{trial}"
        proc = subprocess.Popen([python, str(script), str(root), str(ack)], env=child_env)
        deadline = time.monotonic() + 20
        while not (ack.exists() and ack.stat().st_size > 0):
            assert proc.poll() is None, "child died"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.5))
        kill_t = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait()

        acked = [line.split() for line in ack.read_text().splitlines() if line.count(" ") == 1]
        must = {int(s) for s, t in acked if float(t) < kill_t - FLUSH}
        # no partial file: every visible parquet opens
        for f in root.rglob("*.parquet"):
            if not f.name.startswith((".", "_")):
                pq.read_table(f)
        tables = read_tables(root, "execution_status")
        seqs = set()
        for t in tables.values():
            if t.num_rows:
                seqs |= {int(v) for v in t.column("seq").to_pylist()}
        missing = must - seqs
        assert not missing, f"trial {trial}: {len(missing)} acknowledged events lost"
        checked += len(must)
        records = list(root.rglob("_runs/*/*.json"))
        assert len(records) == 1
        rec = json.loads(records[0].read_text())
        assert rec["ended_at"] is None and rec["outcome"] is None
    assert checked > 0
    # the last record: once its heartbeat is older than 3x the interval it is judged dead
    time.sleep(3 * HEARTBEAT + 0.05)
    assert judge(rec, datetime.now(UTC)) == "dead"
    rec_alive = dict(rec, heartbeat_at=datetime.now(UTC).isoformat(), host="elsewhere")
    assert judge(rec_alive, datetime.now(UTC)) == "live"
