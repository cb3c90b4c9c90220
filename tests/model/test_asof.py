"""The state of a root as of a moment: hand-made stores, both ways in (fold and cursor)."""

from __future__ import annotations

import json
import random

import pytest
from support.events import T0, event, iso, log_row, packet, table_dir, write_parquet

from orcatui.model.asof import ALIVE_LATER, AsOfMonitor, TimeCursor, load_as_of, record_as_of
from orcatui.model.monitor import Monitor
from orcatui.model.runs import Liveness
from orcatui.model.views import View

ETL = ("etl",)


def record(root, run, **fields) -> None:
    d = root / "etl" / "_runs"
    d.mkdir(parents=True, exist_ok=True)
    data = {
        "run_id": run,
        "pipeline_uri": "etl@0123",
        "host": "elsewhere",
        "pid": 1,
        "started_at": iso(T0),
        "heartbeat_at": iso(T0),
        "heartbeat_interval_s": 5,
        "ended_at": None,
        "outcome": None,
        "nodes": {"clean": {"label": "Cleaning"}},
    } | fields
    (d / f"{run}.json").write_text(json.dumps(data))


def crashed_run(root):
    """Run r1: a at T0..T0+10 SUCCESS, b from T0+5 never ends, c from T0+20 FAILED at T0+30;
    the writer heartbeat stops at T0+40 (killed), the record never ends."""
    rows = (
        packet("r1", T0, T0 + 10, "SUCCESS", subject="a")
        + packet("r1", T0 + 5, None, "", subject="b")
        + packet("r1", T0 + 20, T0 + 30, "FAILED", "ValueError: bad", subject="c")
    )
    write_parquet(table_dir(root, "etl", ("clean",)), rows)
    write_parquet(
        table_dir(root, "etl", ("clean",), "log"),
        [
            log_row("r1", T0 + 10, stdout="a done", subject="a"),
            log_row("r1", T0 + 30, stderr="c failed", ok=False, subject="c"),
        ],
    )
    record(root, "r1", heartbeat_at=iso(T0 + 40))
    return root


def both(root, at, **kw) -> list[Monitor]:
    """The fold way and the cursor way to the state at ``at``."""
    folded, _ = load_as_of(root, at, **kw)
    cursor = TimeCursor.load(root, **kw).monitor_at(at)
    return [folded, cursor]


def pipeline(m: Monitor):
    (p,) = m.snapshot().pipelines
    return p


def rows_by_subject(m: Monitor, view: View | None = None) -> dict[str, dict]:
    p = pipeline(m)
    out = {}
    for node in p.nodes:
        for r in m.packet_rows(node.key, view).to_pylist():
            out[r["subject"]] = r
    return out


def test_before_the_run_started_nothing_is_there(tmp_path):
    crashed_run(tmp_path)
    for m in both(tmp_path, T0 - 60):
        p = pipeline(m)
        assert p.run is None and p.runs == ()
        assert sum(p.counts.values()) == 0


def test_mid_run_packets_in_flight_are_running_and_the_run_live(tmp_path):
    crashed_run(tmp_path)
    for m in both(tmp_path, T0 + 7):
        p = pipeline(m)
        assert p.run.run_id == "r1"
        assert p.run.verdict.liveness is Liveness.LIVE
        assert ALIVE_LATER in p.run.verdict.reason
        assert p.counts == {"SUCCESS": 0, "CACHED": 0, "FAILED": 0, "RUNNING": 2, "LOST": 0}
        rows = rows_by_subject(m)
        assert set(rows) == {"a", "b"}
        assert rows["a"]["state"] == "RUNNING" and rows["a"]["duration_s"] == pytest.approx(7)
        # The log row of "a" was written at T0+10: not there yet.
        assert m.details(p.nodes[0].key, rows["a"]).log is None


def test_after_the_crash_running_packet_is_lost_with_the_reason_of_then(tmp_path):
    crashed_run(tmp_path)
    for m in both(tmp_path, T0 + 40 + 120):
        p = pipeline(m)
        assert p.run.verdict.liveness is Liveness.DEAD
        assert p.run.verdict.reason == "heartbeat stopped 2m ago"
        assert p.counts == {"SUCCESS": 1, "CACHED": 0, "FAILED": 1, "RUNNING": 0, "LOST": 1}
        rows = rows_by_subject(m)
        assert rows["b"]["state"] == "LOST"
        assert rows["b"]["lost_reason"] == "heartbeat stopped 2m ago (likely)"
        assert m.details(p.nodes[0].key, rows["c"]).log.stderr == "c failed"


def test_just_before_the_heartbeat_stopped_the_run_was_live(tmp_path):
    crashed_run(tmp_path)
    for m in both(tmp_path, T0 + 35):
        p = pipeline(m)
        assert p.run.verdict.liveness is Liveness.LIVE
        assert p.counts["RUNNING"] == 1 and p.counts["LOST"] == 0 and p.counts["FAILED"] == 1


def test_a_run_that_ended_later_had_not_ended_then(tmp_path):
    crashed_run(tmp_path)
    record(tmp_path, "r1", heartbeat_at=iso(T0 + 50), ended_at=iso(T0 + 50), outcome="failed")
    for m in both(tmp_path, T0 + 25):
        p = pipeline(m)
        assert p.run.verdict.liveness is Liveness.LIVE and ALIVE_LATER in p.run.verdict.reason
        assert p.run.ended is None and p.run.outcome is None
    for m in both(tmp_path, T0 + 55):
        p = pipeline(m)
        assert p.run.verdict.liveness is Liveness.ENDED
        assert p.run.outcome == "failed" and p.counts["LOST"] == 1


def test_a_record_started_after_the_moment_did_not_exist(tmp_path):
    crashed_run(tmp_path)
    record(tmp_path, "r2", started_at=iso(T0 + 100), heartbeat_at=iso(T0 + 200))
    for m in both(tmp_path, T0 + 50):
        assert [r.run_id for r in pipeline(m).runs] == ["r1"]
    for m in both(tmp_path, T0 + 150):
        p = pipeline(m)
        assert [r.run_id for r in p.runs] == ["r2", "r1"]  # r2 started, no events yet
        assert p.runs[0].verdict.liveness is Liveness.LIVE


def test_orcapod_run_without_record_is_judged_by_event_age_then(tmp_path):
    rows = packet("r1", T0, T0 + 1, "SUCCESS", subject="a") + packet(
        "r1", T0 + 2, None, "", subject="b"
    )
    write_parquet(table_dir(tmp_path, "etl", ("clean",)), rows)
    for m in both(tmp_path, T0 + 60, stale_after=600):
        assert pipeline(m).run.verdict.liveness is Liveness.LIVE
        assert pipeline(m).counts["RUNNING"] == 1
    for m in both(tmp_path, T0 + 3600, stale_after=600):
        p = pipeline(m)
        assert p.run.verdict.liveness is Liveness.OVER and p.counts["LOST"] == 1


def test_event_exactly_at_the_moment_counts(tmp_path):
    crashed_run(tmp_path)
    for m in both(tmp_path, T0 + 10):
        assert rows_by_subject(m)["a"]["state"] == "SUCCESS"


def test_record_as_of_rules():
    data = {"run_id": "r", "started_at": T0, "heartbeat_at": T0 + 100, "ended_at": T0 + 100}
    data["outcome"] = "completed"
    assert record_as_of(data, T0 - 1).data is None
    mid = record_as_of(data, T0 + 50)
    assert mid.alive_later and mid.data["ended_at"] is None and mid.data["outcome"] is None
    assert mid.data["heartbeat_at"] == T0 + 50
    after = record_as_of(data, T0 + 200)
    assert not after.alive_later and after.data == data
    # A record that cannot be parsed goes on unchanged (the monitor skips it as usual).
    assert record_as_of({"nope": 1}, T0).data == {"nope": 1}


def test_as_of_monitor_refuses_to_refresh(tmp_path):
    crashed_run(tmp_path)
    m, _ = load_as_of(tmp_path, T0 + 5)
    assert isinstance(m, AsOfMonitor)
    with pytest.raises(RuntimeError):
        m.refresh()


def test_cursor_steps_by_event(tmp_path):
    crashed_run(tmp_path)
    cursor = TimeCursor.load(tmp_path)
    assert cursor.span == (pytest.approx(T0), pytest.approx(T0 + 30))
    at = T0 - 5
    seen = []
    for _ in range(8):
        at = cursor.step_event(at, +1)
        seen.append(round(at - T0, 3))
    assert seen == [0, 5, 10, 20, 30, 30, 30, 30]
    assert round(cursor.step_event(T0 + 20, -1) - T0, 3) == 10
    assert cursor.step_event(T0, -1) == T0


def _random_store(root, rnd: random.Random) -> list[float]:
    """Two nodes, three runs, ties on timestamps, a tag appearing later, duplicates."""
    times = []
    for node in ("clean", "fit"):
        rows = []
        for run_i, run in enumerate(("r1", "r2", "r3")):
            for k in range(12):
                start = T0 + run_i * 100 + rnd.choice([0, 1, 2, 3, 5, 8])
                end = start + rnd.choice([0, 0, 1, 2, 4])  # 0: terminal ties RUNNING
                state = rnd.choice(["SUCCESS", "FAILED", "CACHED", None])
                tags = {"subject": f"s{k % 6}"}
                if k > 8:
                    tags["session"] = str(k % 2)
                rows.append(event("RUNNING", start, run, **tags))
                if state:
                    error = "boom" if state == "FAILED" else None
                    rows.append(event(state, end, run, error, **tags))
                times += [start, end]
        rnd.shuffle(rows)
        rows.append(dict(rows[0]))  # a duplicate event
        half = len(rows) // 2
        write_parquet(table_dir(root, "etl", (node,)), rows[:half])
        write_parquet(table_dir(root, "etl", (node,)), rows[half:])
    return sorted(set(times))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cursor_equals_fold_at_every_moment(tmp_path, seed):
    times = _random_store(tmp_path, random.Random(seed))
    cursor = TimeCursor.load(tmp_path, stale_after=50)
    for at in [times[0] - 1, *times, times[-1] + 1000, times[3] + 0.5]:
        folded, _ = load_as_of(tmp_path, at, stale_after=50)
        fast = cursor.monitor_at(at)
        for view in (View(), View(run_id="r1"), View(all_runs=True)):
            a = folded.snapshot({ETL: view})
            b = fast.snapshot({ETL: view})
            assert a.pipelines == b.pipelines or _same(a, b), (at - T0, view)
            for node in a.pipelines[0].nodes:
                ra = folded.packet_rows(node.key, view).sort_by("key").to_pylist()
                rb = fast.packet_rows(node.key, view).sort_by("key").to_pylist()
                assert ra == rb, (at - T0, view, node.key)


def _same(a, b) -> bool:
    pa_, pb = a.pipelines[0], b.pipelines[0]
    return (
        pa_.counts == pb.counts
        and [(r.run_id, r.verdict, r.counts) for r in pa_.runs]
        == [(r.run_id, r.verdict, r.counts) for r in pb.runs]
        and [(n.key, n.counts) for n in pa_.nodes] == [(n.key, n.counts) for n in pb.nodes]
    )


def test_a_remote_writers_clock_offset_is_not_applied_to_a_wound_back_heartbeat() -> None:
    """A writer 5 minutes ahead of the store, alive after T: wound back to T its heartbeat is T
    on the reader's scale already; shifting it by the offset again would call it dead at T."""
    from orcatui.model.runs import RunRecord, judge_run

    at = T0 + 60
    data = {
        "run_id": "r1",
        "host": "elsewhere",
        "pid": 4242,
        "started_at": iso(T0),
        "heartbeat_at": iso(at + 600),
        "heartbeat_interval_s": 5.0,
        "ended_at": None,
        "_seen_change_at": at + 300,
        "_heartbeat_watched": False,
        "_clock_offset_s": -300.0,
    }
    out = record_as_of(data, at)
    assert out.alive_later and "_clock_offset_s" not in out.data
    verdict = judge_run(None, RunRecord.from_json(out.data), now=at, this_host="here")
    assert verdict.liveness is Liveness.LIVE, verdict
