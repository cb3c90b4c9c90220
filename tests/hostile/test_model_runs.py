"""Hostile run records and writers (issue 8 items 3, 4, 7, 10): real record files, real processes.

Per-writer records are written by hand exactly as the contract says
(``<root>/<pipeline>/_runs/<run_id>/<writer_id>.json``, atomically) and handed to the model the
way the store does: each file's JSON with ``"_record_path"`` added (``records_update``).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.events import T0, iso, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.report import build_report, exit_code
from orcatui.model.runs import Liveness, RunRecord, RunStats, judge_run
from orcatui.store.store import StoreUpdate

HOST = socket.gethostname()


def write_record(root: Path, run: str, writer: str | None, **fields) -> Path:
    """One writer's record (``writer=None``: the older single file ``_runs/<run>.json``)."""
    data = {
        "run_id": run,
        "writer_id": writer,
        "pipeline_uri": "etl@0123",
        "host": "elsewhere",
        "pid": 1,
        "pid_start_time": None,
        "pid_start_ticks": None,
        "started_at": iso(T0),
        "heartbeat_at": iso(T0),
        "heartbeat_interval_s": 5,
        "ended_at": None,
        "outcome": None,
        "nodes": {},
    } | fields
    runs = root / "etl" / "_runs"
    path = runs / f"{run}.json" if writer is None else runs / run / f"{writer}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    return path


def records_update(root: Path) -> StoreUpdate:
    """What the store hands the model for the record files under ``root`` (per the contract)."""
    out: dict[tuple[str, ...], list[dict]] = {}
    for path in sorted((root / "etl" / "_runs").rglob("*.json")):
        if path.name.startswith("."):
            continue
        data = json.loads(path.read_text())
        data["_record_path"] = str(path.relative_to(root))
        out.setdefault(("etl",), []).append(data)
    return StoreUpdate(run_records=out)


def load(root: Path, **kw) -> Monitor:
    m = Monitor(root, check_process=kw.pop("check_process", False), **kw)
    m.refresh()
    m.apply(records_update(root))
    return m


def shared_run_root(tmp_path: Path) -> Path:
    rows = packet("r1", T0, T0 + 1, "SUCCESS", subject="a") + packet(
        "r1", T0 + 1, None, "", subject="b"
    )
    write_status(tmp_path, "etl", ("clean",), rows)
    return tmp_path


def test_one_writer_ending_leaves_a_shared_run_live(tmp_path):
    root = shared_run_root(tmp_path)
    write_record(root, "r1", "hostA-10-aaaaaaaa", ended_at=iso(T0 + 2), outcome="completed")
    write_record(root, "r1", "hostB-11-bbbbbbbb", heartbeat_at=iso(T0 + 9))
    m = load(root)
    (p,) = m.snapshot(now=T0 + 10).pipelines
    assert p.run.verdict.liveness is Liveness.LIVE
    assert p.counts["RUNNING"] == 1 and p.counts["LOST"] == 0
    assert "1 of 2 writers live" in p.run.verdict.reason


def test_shared_run_dead_writer_reason_and_worst_outcome(tmp_path):
    root = shared_run_root(tmp_path)
    write_record(root, "r1", "a", ended_at=iso(T0 + 2), outcome="completed")
    write_record(root, "r1", "b", heartbeat_at=iso(T0))
    m = load(root)
    (p,) = m.snapshot(now=T0 + 600).pipelines
    assert p.run.verdict.liveness is Liveness.DEAD
    assert p.run.verdict.reason.startswith("heartbeat stopped")
    assert p.counts["LOST"] == 1
    write_record(root, "r1", "b", ended_at=iso(T0 + 30), outcome="failed")
    write_record(
        root, "r1", "c", started_at=iso(T0 - 5), ended_at=iso(T0 + 3), outcome="interrupted"
    )
    m = load(root)
    (p,) = m.snapshot(now=T0 + 600).pipelines
    assert p.run.verdict.liveness is Liveness.ENDED
    assert p.run.verdict.reason == "run ended (failed)"
    assert p.run.outcome == "failed"
    assert p.run.started == T0 - 5 and p.run.ended == T0 + 30


def test_old_single_file_record_still_read_as_one_writer(tmp_path):
    root = shared_run_root(tmp_path)
    write_record(root, "r1", None, ended_at=iso(T0 + 2), outcome="completed")
    m = Monitor(root, check_process=False)
    m.refresh()  # the store reads _runs/<run>.json itself
    (p,) = m.snapshot(now=T0 + 10).pipelines
    assert p.run.has_record and p.run.verdict.liveness is Liveness.ENDED
    assert p.counts["LOST"] == 1


def test_node_labels_merged_and_largest_total_wins(tmp_path):
    root = shared_run_root(tmp_path)
    write_record(root, "r1", "a", nodes={"clean": {"label": "Cleaning", "total": 100}})
    write_record(root, "r1", "b", nodes={"clean": {"total": 250}, "other": {"label": "Other"}})
    m = load(root)
    rec = m.pipelines[("etl",)].records["r1"]
    assert rec.nodes["clean"] == {"label": "Cleaning", "total": 250}
    assert rec.nodes["other"]["label"] == "Other"
    (p,) = m.snapshot(now=T0 + 1).pipelines
    assert p.nodes[0].name.title == "Cleaning"


def test_per_writer_records_found_by_the_store_on_a_real_root(tmp_path):
    root = shared_run_root(tmp_path)
    write_record(root, "r1", "a", ended_at=iso(T0 + 2), outcome="completed")
    write_record(root, "r1", "b", heartbeat_at=iso(T0 + 9))
    m = Monitor(root, check_process=False)
    m.refresh()
    (p,) = m.snapshot(now=T0 + 10).pipelines
    assert p.run.has_record and m.pipelines[("etl",)].records["r1"].writers == 2
    assert p.run.verdict.liveness is Liveness.LIVE


# -- item 4: runs without run records ---------------------------------------------------------


def test_older_run_still_writing_after_a_newer_run_started_is_not_over(tmp_path):
    rows = packet("old", T0, None, "", subject="x") + packet(
        "old", T0 + 1, T0 + 9, "SUCCESS", subject="y"
    )
    rows += packet("new", T0 + 5, T0 + 6, "SUCCESS", subject="x")
    write_status(tmp_path, "etl", ("clean",), rows)
    m = Monitor(tmp_path, stale_after=600)
    m.refresh()
    v = m.verdicts(("etl",), T0 + 10)
    assert v["old"].liveness is Liveness.LIVE, v["old"]
    # ... until --stale-after passes without an event
    assert m.verdicts(("etl",), T0 + 9 + 601)["old"].liveness is Liveness.OVER


def test_older_run_silent_since_the_newer_run_started_is_over(tmp_path):
    rows = packet("old", T0, None, "", subject="x") + packet(
        "new", T0 + 5, T0 + 6, "SUCCESS", subject="x"
    )
    write_status(tmp_path, "etl", ("clean",), rows)
    m = Monitor(tmp_path, stale_after=600)
    m.refresh()
    v = m.verdicts(("etl",), T0 + 10)
    assert v["old"].liveness is Liveness.OVER and v["old"].reason == "a newer run has started"


# -- item 7: zombies and malformed heartbeats ----------------------------------------------------


def test_zombie_writer_is_gone():
    """A killed child not yet reaped: ``kill(pid, 0)`` succeeds, /proc says ``Z``."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = RunRecord(run_id="r", host=HOST, pid=proc.pid, heartbeat_at=T0, started_at=T0)
        assert judge_run(None, rec, now=T0 + 1).liveness is Liveness.LIVE
        os.kill(proc.pid, signal.SIGKILL)
        for _ in range(200):  # wait for the kernel to make it a zombie (we do not reap it)
            with open(f"/proc/{proc.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        os.kill(proc.pid, 0)  # still a pid: the old check called this alive
        v = judge_run(None, rec, now=T0 + 1)
        assert v.liveness is Liveness.DEAD and "zombie" in v.reason
    finally:
        proc.kill()
        proc.wait()


def test_pid_start_ticks_compared_exactly():
    from observers.procinfo import start_ticks

    me = os.getpid()
    ticks = start_ticks(me)
    same = RunRecord(run_id="r", host=HOST, pid=me, heartbeat_at=T0, pid_start_ticks=ticks)
    assert judge_run(None, same, now=T0 + 1).liveness is Liveness.LIVE
    # one tick off: another process got the pid (the epoch compare would call it the same)
    other = RunRecord(run_id="r", host=HOST, pid=me, heartbeat_at=T0, pid_start_ticks=ticks + 1)
    v = judge_run(None, other, now=T0 + 1)
    assert v.liveness is Liveness.DEAD and "another process" in v.reason


@pytest.mark.parametrize(
    "fields",
    [
        {"heartbeat_at": float("nan"), "started_at": None},
        {"heartbeat_at": None, "started_at": None},
        {"heartbeat_at": "garbage", "started_at": "also garbage"},
        {"heartbeat_at": float("inf"), "started_at": None},
        {"heartbeat_interval_s": 0},
        {"heartbeat_at": T0 + 10 * 365 * 86400},  # ten years ahead: never "fresh forever"
    ],
)
def test_malformed_heartbeat_falls_back_to_event_age(fields):
    data = {"run_id": "r", "host": "elsewhere", "pid": 5, "heartbeat_at": T0} | fields
    rec = RunRecord.from_json(data)
    stats = RunStats("r", int(T0 * 1e6), int(T0 * 1e6), 2)
    fresh = judge_run(stats, rec, now=T0 + 30, stale_after=600)
    assert fresh.liveness is Liveness.LIVE and fresh.reason.startswith("heartbeat unknown")
    stale = judge_run(stats, rec, now=T0 + 3600, stale_after=600)
    assert stale.liveness is Liveness.OVER


# -- item 10: every field of a record is untrusted ---------------------------------------------

BAD_VALUES = {
    "pid": [2**40, -1, 0, True, "12", 1.5, 2**64],
    "pid_start_time": [float("nan"), 1e300, "x", -5, True],
    "pid_start_ticks": [-1, "1", 2**70, 1.0],
    "started_at": [1e300, float("nan"), float("-inf"), "0001-01-01", "x" * 100, -1e18, [], {}],
    "heartbeat_at": [1e300, float("nan"), float("inf"), "not a time", True],
    "ended_at": [1e300, float("nan"), float("inf"), "99999-01-01", "garbage", 2**1000],
    "heartbeat_interval_s": [0, -5, 1e308, float("nan"), "5", True, 10**400],
    "nodes": ["not a dict", [1, 2], 5, {"a": "not a dict"}, {"a": {"total": -3, "label": 7}}],
    "outcome": ["exploded", 5, "", ["failed"]],
    "host": [5, ["x"]],
}


def _json_safe(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, vs in BAD_VALUES.items() for v in vs])
def test_each_bad_field_is_named_and_unknown(tmp_path, field, value):
    root = shared_run_root(tmp_path)
    path = write_record(root, "r1", "w", **{field: _json_safe(value)})
    update = records_update(root)
    update.run_records[("etl",)][0][field] = value  # the raw value, NaN and all
    m = Monitor(root, check_process=True, this_host="elsewhere")
    m.refresh()
    m.apply(update)
    report = build_report(m, now=T0 + 10)
    text = json.dumps(report)
    assert "Infinity" not in text and "NaN" not in text
    for p in report["pipelines"]:
        for r in p["runs"]:
            for k in ("started", "ended", "last_event"):
                assert r[k] is None or len(r[k]) == 25  # 2026-11-28T15:13:37+00:00
    assert any(f"field {field}" in e for e in report["errors"]), report["errors"]
    assert any(str(path.relative_to(root)) in e for e in report["errors"])
    assert exit_code(report) in (3, 4)  # never 0 or 1 over a record it could not read


RECORD_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
FIELDS = [
    "pid",
    "pid_start_time",
    "pid_start_ticks",
    "started_at",
    "heartbeat_at",
    "heartbeat_interval_s",
    "ended_at",
    "outcome",
    "nodes",
    "host",
    "writer_id",
    "pipeline_uri",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), RECORD_VALUE))
def test_any_record_values_never_crash_or_overflow(fields):
    rec = RunRecord.from_json({"run_id": "r"} | fields)
    stats = RunStats("r", int(T0 * 1e6), int(T0 * 1e6) + 1, 2)
    for now in (T0 + 1, T0 + 10**6):
        v = judge_run(stats, rec, now=now, this_host=HOST)
        assert len(v.reason) < 120  # never a 100-digit duration
    for t in (rec.started_at, rec.heartbeat_at, rec.ended_at, rec.pid_start_time):
        assert t is None or math.isfinite(t)
    assert rec.pid is None or 1 <= rec.pid <= 4_194_304
    assert rec.heartbeat_interval_s > 0 and math.isfinite(rec.heartbeat_interval_s)
    assert isinstance(rec.nodes, dict) and rec.outcome in (
        None,
        "completed",
        "interrupted",
        "failed",
    )
