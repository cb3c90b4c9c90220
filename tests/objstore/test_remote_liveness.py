"""Run liveness on an S3 root is judged by the reader's clock (design.md §9).

A writer whose clock is 5 minutes ahead or behind is neither killed while it beats nor kept
alive once it stops: the reader counts 3 heartbeat intervals of its *own* clock since it last
saw ``heartbeat_at`` change. What the reader never watched (a first read) is judged from the
writer's heartbeat shifted by the writer's measured clock offset, and the verdict says so.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.events import event
from test_remote_summary import orcatui

from observers.objstore import Bucket
from orcatui.model.monitor import Monitor
from orcatui.model.runs import Liveness

INTERVAL = 1.0
RECORD = "db/p/_runs/r1/elsewhere-1-abcd.json"


class Writer:
    """A writer on another host, simulated: its run record rewritten with its own (skewed)
    clock, one RUNNING event in a status table."""

    def __init__(self, bucket: str, skew_s: float) -> None:
        self.b = Bucket(f"s3://{bucket}/db")
        self.skew_s = skew_s
        now = time.time()
        rows = [event("RUNNING", now + skew_s, run="r1", subject="a")]
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buf)
        self.b.put("db/p/_status/work/execution_status/part-0.parquet", buf.getvalue())
        self.started = self._iso(now)
        self.beats = 0

    def _iso(self, now: float) -> str:
        return datetime.fromtimestamp(now + self.skew_s, UTC).isoformat()

    def beat(self, *, ended: bool = False) -> None:
        self.beats += 1
        now = self._iso(time.time())
        record = {
            "run_id": "r1",
            "writer_id": "elsewhere-1-abcd",
            "host": "elsewhere",
            "pid": 4242,
            "started_at": self.started,
            "heartbeat_at": now,
            "heartbeat_interval_s": INTERVAL,
            "ended_at": now if ended else None,
            "outcome": "completed" if ended else None,
            "nodes": {},
        }
        self.b.put(RECORD, json.dumps(record).encode())


def _verdict(monitor: Monitor, now: float) -> Any:
    monitor.refresh(rediscover=False, only=set())
    return monitor.verdicts(("p",), now)["r1"]


@pytest.mark.parametrize("skew_min", [5, -5])
def test_skewed_writer_live_while_beating_dead_after_three_silent_intervals(
    s3_bucket: str, skew_min: int
) -> None:
    writer = Writer(s3_bucket, skew_min * 60.0)
    writer.beat()
    reader = [time.time()]
    monitor = Monitor(f"s3://{s3_bucket}/db", clock=lambda: reader[0], this_host="here")
    monitor.refresh()
    first = monitor.verdicts(("p",))["r1"]
    # a first read is post-mortem: the writer's time, corrected by its offset to the store
    assert first.liveness is Liveness.LIVE and "clock offset" in first.reason
    for _ in range(5):  # beating: live on every read, the reader's clock running
        time.sleep(0.05)  # a new heartbeat value (µs precision): a change the reader can see
        writer.beat()
        reader[0] += INTERVAL
        verdict = _verdict(monitor, reader[0])
        assert verdict.liveness is Liveness.LIVE, verdict
        assert verdict.reason == "heartbeat fresh"
    # stopped (SIGKILL): no change seen; live up to 3 intervals of the reader's clock, then dead
    reader[0] += 2.5 * INTERVAL
    assert _verdict(monitor, reader[0]).liveness is Liveness.LIVE
    reader[0] += 1.0 * INTERVAL
    dead = _verdict(monitor, reader[0])
    assert dead.liveness is Liveness.DEAD
    assert "not seen changing" in dead.reason and "reader's clock" in dead.reason
    warnings = monitor.clock_warnings()
    assert len(warnings) == 1 and ("behind" if skew_min < 0 else "ahead of") in warnings[0]
    assert "elsewhere" in warnings[0] and RECORD[3:] in warnings[0]


@pytest.mark.parametrize("skew_min", [5, -5])
def test_first_read_of_a_stopped_writer_is_post_mortem(s3_bucket: str, skew_min: int) -> None:
    """Read for the first time long after the writer stopped: dead, judged from its own
    heartbeat time (shifted by its clock offset), and the reason says it is post-mortem."""
    writer = Writer(s3_bucket, skew_min * 60.0)
    writer.beat()
    later = time.time() + 10 * 60
    monitor = Monitor(f"s3://{s3_bucket}/db", clock=lambda: later, this_host="here")
    monitor.refresh()
    verdict = monitor.verdicts(("p",))["r1"]
    assert verdict.liveness is Liveness.DEAD
    assert "post-mortem" in verdict.reason and "writer's heartbeat time" in verdict.reason
    # heartbeat stopped ~10 min ago by the store's clock, whatever the writer's clock says
    assert "heartbeat stopped 10m" in verdict.reason or "heartbeat stopped 9m" in verdict.reason


def test_summary_warns_about_a_skewed_writer_clock_without_changing_the_exit_code(
    s3_bucket: str, child_env: dict[str, str]
) -> None:
    writer = Writer(s3_bucket, -300.0)
    writer.beat(ended=True)
    r = orcatui("summary", f"s3://{s3_bucket}/db", "--json", env=child_env)
    assert r.returncode == 3, r.stderr  # the ended run left a packet RUNNING: LOST
    data = json.loads(r.stdout)
    assert data["errors"] == []
    (line,) = r.stderr.splitlines()
    assert line.startswith("orcatui: warning:")
    # Last-Modified has one-second resolution and the upload takes a moment: 300 s, about
    found = re.search(r"is (\d+)s behind the object store's", line)
    assert found is not None and 298 <= int(found.group(1)) <= 305, line


def test_reader_keys_in_a_local_record_are_not_believed(tmp_path: Path) -> None:
    """A record file on disk that carries the reader's keys is judged like any local one: a
    forged ``_seen_change_at`` cannot keep a stopped writer live."""
    runs = tmp_path / "p" / "_runs" / "r1"
    runs.mkdir(parents=True)
    old = datetime.now(UTC) - timedelta(hours=1)
    record = {
        "run_id": "r1",
        "host": "elsewhere",
        "started_at": old.isoformat(),
        "heartbeat_at": old.isoformat(),
        "heartbeat_interval_s": 1.0,
        "_seen_change_at": time.time() + 3600,
        "_heartbeat_watched": True,
        "_clock_offset_s": 3600.0,
    }
    (runs / "w.json").write_text(json.dumps(record))
    from support.events import write_status

    write_status(tmp_path, "p", ("work",), [event("RUNNING", old.timestamp(), run="r1")])
    monitor = Monitor(tmp_path, this_host="here")
    monitor.refresh()
    verdict = monitor.verdicts(("p",))["r1"]
    assert verdict.liveness is Liveness.DEAD and "heartbeat stopped" in verdict.reason
    assert monitor.clock_warnings() == []


CHILD = r"""
import sys, time
import observers
url = sys.argv[1]
run = observers.run(url, pipeline="p", run_id="r1", heartbeat_interval=0.3, flush_interval=0.05)
with run, run.node("work") as node:
    node._obs.on_data_start("work", {"i": 0}, None)
    run.status.flush()
    print("ready", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
def test_sigkilled_writer_turns_dead_once_the_reader_saw_no_change(
    tmp_path: Path, s3_bucket: str, python: str, child_env: dict[str, str]
) -> None:
    """A real writer process heartbeating every 0.3 s into S3, read by a monitor on the real
    clock (as if on another host: no process check); after SIGKILL its run turns dead, with
    the reader's-clock reason, and its RUNNING packet is LOST."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    url = f"s3://{s3_bucket}/db"
    proc = subprocess.Popen(
        [python, str(script), url], env=child_env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        monitor = Monitor(url, this_host="another-host")
        monitor.refresh()
        deadline = time.time() + 30
        watched = None
        while time.time() < deadline:  # until the reader has seen the heartbeat change
            time.sleep(0.2)
            monitor.refresh(rediscover=False)
            watched = monitor.verdicts(("p",))["r1"]
            writers = monitor.pipelines[("p",)].writers["r1"]
            if any(w.heartbeat_watched for w in writers.values()):
                break
        assert watched is not None and watched.reason == "heartbeat fresh"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        verdict = watched
        while time.time() < deadline and verdict.live:
            time.sleep(0.2)
            monitor.refresh(rediscover=False)
            verdict = monitor.verdicts(("p",))["r1"]
        assert verdict.liveness is Liveness.DEAD, verdict
        assert "reader's clock" in verdict.reason
        snap = monitor.snapshot()
        assert snap.pipelines[0].counts["LOST"] == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_root_that_cannot_be_read_never_turns_a_live_run_dead(s3_server, s3_bucket: str) -> None:
    """The endpoint down or the bucket gone: the reader sees no heartbeat because it cannot
    look, which is no sign of death. Runs are judged as of the last read, and say so."""
    from orcatui.store.store import RootError

    writer = Writer(s3_bucket, 0.0)
    writer.beat()
    reader = [time.time()]
    monitor = Monitor(f"s3://{s3_bucket}/db", clock=lambda: reader[0], this_host="here")
    monitor.refresh()
    for _ in range(2):
        time.sleep(0.05)
        writer.beat()
        reader[0] += INTERVAL
        assert _verdict(monitor, reader[0]).liveness is Liveness.LIVE
    s3 = s3_server.client()
    for obj in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", []):
        s3.delete_object(Bucket=s3_bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=s3_bucket)
    reader[0] += 10 * INTERVAL
    with pytest.raises(RootError):
        monitor.refresh(rediscover=False, only=set())
    reader[0] += 10 * INTERVAL
    blind = monitor.verdicts(("p",))["r1"]
    assert blind.liveness is Liveness.LIVE, blind
    assert "cannot be read" in blind.reason


def test_a_crashed_writers_open_record_stops_costing_requests(s3_bucket: str) -> None:
    """A record left open by a crashed writer is read on every poll only while its heartbeat
    was seen changing lately; after that, polls of no table make no request for it."""
    writer = Writer(s3_bucket, 0.0)
    writer.beat()
    reader = [time.time()]
    monitor = Monitor(f"s3://{s3_bucket}/db", clock=lambda: reader[0], this_host="here")
    monitor.refresh()
    store = monitor.store

    def lists_for_one_poll() -> int:
        before = store.requests.get("LIST", 0)
        monitor.refresh(rediscover=False, only=set())
        return store.requests.get("LIST", 0) - before

    reader[0] += INTERVAL
    assert lists_for_one_poll() == 1  # open and fresh: its heartbeat is watched
    reader[0] += 120.0
    assert lists_for_one_poll() == 0
    assert monitor.verdicts(("p",))["r1"].liveness is Liveness.DEAD
