"""Run liveness and LOST packets (docs/design.md §5), with run records and without."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from support.events import T0, iso, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.runs import Liveness, RunRecord, RunStats, judge_run


def record(root, run, **fields) -> None:
    d = root / "etl" / "_runs"
    d.mkdir(parents=True, exist_ok=True)
    data = {
        "run_id": run,
        "pipeline_uri": "etl@0123",
        "host": "elsewhere",
        "pid": 1,
        "pid_start_time": None,
        "started_at": iso(T0),
        "heartbeat_at": iso(T0),
        "heartbeat_interval_s": 5,
        "ended_at": None,
        "outcome": None,
        "nodes": {"clean": {"label": "Cleaning", "node_hash": "h", "tag_keys": ["subject"]}},
    } | fields
    (d / f"{run}.json").write_text(json.dumps(data))


def crashed_root(tmp_path):
    rows = packet("r1", T0, T0 + 1, "SUCCESS", subject="a") + packet(
        "r1", T0, None, "", subject="b"
    )
    write_status(tmp_path, "etl", ("clean",), rows)
    return tmp_path


def only_pipeline(m: Monitor, now: float):
    (p,) = m.snapshot(now=now).pipelines
    return p


def test_orcapod_run_is_live_until_stale_then_running_becomes_lost(tmp_path):
    m = Monitor(crashed_root(tmp_path), stale_after=600)
    m.refresh()
    p = only_pipeline(m, T0 + 60)
    assert p.run.verdict.liveness is Liveness.LIVE
    assert p.counts["RUNNING"] == 1 and p.counts["LOST"] == 0
    p = only_pipeline(m, T0 + 2 * 3600)
    assert p.run.verdict.liveness is Liveness.OVER
    assert p.counts["RUNNING"] == 0 and p.counts["LOST"] == 1
    (lost,) = [
        r for r in m.packet_rows(p.nodes[0].key, now=T0 + 7200).to_pylist() if r["state"] == "LOST"
    ]
    assert lost["subject"] == "b"
    assert lost["lost_reason"] == "no event for 1h (presumed)"


def test_newer_run_makes_older_running_packets_lost(tmp_path):
    root = crashed_root(tmp_path)
    write_status(root, "etl", ("clean",), packet("r2", T0 + 30, None, "", subject="a"))
    m = Monitor(root)
    m.refresh()
    verdicts = m.verdicts(("etl",), T0 + 40)
    assert verdicts["r1"].liveness is Liveness.OVER and "newer run" in verdicts["r1"].reason
    assert verdicts["r2"].liveness is Liveness.LIVE
    runs = m.run_infos(("etl",), T0 + 40)
    assert [r.run_id for r in runs] == ["r2", "r1"]
    assert runs[1].counts["LOST"] == 1


def test_run_record_heartbeat_stopped(tmp_path):
    root = crashed_root(tmp_path)
    record(root, "r1", heartbeat_at=iso(T0 + 10))
    m = Monitor(root)
    m.refresh()
    p = only_pipeline(m, T0 + 10 + 4 * 60)
    assert p.run.verdict.liveness is Liveness.DEAD
    assert p.run.verdict.reason == "heartbeat stopped 4m ago"
    assert p.counts["LOST"] == 1
    # The run record's label names the node.
    assert p.nodes[0].name.title == "Cleaning"
    # A fresh heartbeat: live, however old the events are.
    assert only_pipeline(m, T0 + 12).run.verdict.liveness is Liveness.LIVE


def test_run_record_ended_means_running_is_lost_for_certain(tmp_path):
    root = crashed_root(tmp_path)
    record(root, "r1", ended_at=iso(T0 + 5), outcome="failed")
    m = Monitor(root)
    m.refresh()
    p = only_pipeline(m, T0 + 6)
    assert p.run.verdict.liveness is Liveness.ENDED and p.counts["LOST"] == 1
    (lost,) = [
        r for r in m.packet_rows(p.nodes[0].key, now=T0 + 6).to_pylist() if r["state"] == "LOST"
    ]
    assert lost["lost_reason"] == "run ended (failed) (certain)"


def test_a_lost_packet_runs_until_its_runs_last_sign_of_life(tmp_path):
    """One rule for every view: a LOST packet's duration ends at its run's last sign of life
    (newest event, heartbeat or recorded end, whichever is latest), not at the reader's clock:
    it stays the same however late the store is read."""
    root = crashed_root(tmp_path)  # b RUNNING from T0; the newest event at T0 + 1
    m = Monitor(root, stale_after=600)
    m.refresh()
    for now in (T0 + 3600, T0 + 30 * 86400):  # no record: the newest event, T0 + 1
        verdict = m.verdicts(("etl",), now)["r1"]
        assert verdict.liveness is Liveness.OVER and verdict.stopped_at == T0 + 1
        rows = m.packet_rows(only_pipeline(m, now).nodes[0].key, now=now).to_pylist()
        (lost,) = [r for r in rows if r["state"] == "LOST"]
        assert lost["duration_s"] == 1.0
    # a heartbeat after the newest event: the packet ran until then
    record(root, "r1", heartbeat_at=iso(T0 + 40))
    m = Monitor(root)
    m.refresh()
    now = T0 + 3600
    assert m.verdicts(("etl",), now)["r1"].stopped_at == T0 + 40
    (lost,) = [
        r
        for r in m.packet_rows(only_pipeline(m, now).nodes[0].key, now=now).to_pylist()
        if r["state"] == "LOST"
    ]
    assert lost["duration_s"] == 40.0
    # a heartbeat from a writer clock ahead of the reader's is no sign of life
    record(root, "r1", heartbeat_at=iso(T0 + 99_999), ended_at=iso(T0 + 50), outcome="failed")
    m = Monitor(root)
    m.refresh()
    assert m.verdicts(("etl",), T0 + 60)["r1"].stopped_at == T0 + 50
    # a live run has no stop
    live = Monitor(crashed_root(tmp_path / "live"), stale_after=600)
    live.refresh()
    assert live.verdicts(("etl",), T0 + 60)["r1"].stopped_at is None


def test_process_gone_on_this_host_with_a_real_killed_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    rec = RunRecord(
        run_id="r", host=socket.gethostname(), pid=proc.pid, heartbeat_at=T0, started_at=T0
    )
    stats = RunStats("r", int(T0 * 1e6), int(T0 * 1e6))
    alive = judge_run(stats, rec, now=T0 + 1)
    assert alive.liveness is Liveness.LIVE
    proc.kill()
    proc.wait()
    dead = judge_run(stats, rec, now=T0 + 1)
    assert dead.liveness is Liveness.DEAD and dead.reason == f"process gone (pid {proc.pid})"


def test_pid_reused_by_a_newer_process_counts_as_gone():
    import os
    import time

    rec = RunRecord(run_id="r", host=socket.gethostname(), pid=os.getpid(), heartbeat_at=T0)
    rec.pid_start_time = time.time() - 10 * 86400  # our pid, but "started" ten days earlier
    verdict = judge_run(None, rec, now=T0 + 1)
    assert verdict.liveness is Liveness.DEAD
