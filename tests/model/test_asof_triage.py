"""The time cursor's triage (progress, ETA, slow flags, counts) read from its sorted events.

:meth:`AsOfMonitor.triage` of a cursor moment computes each node's figures from the cursor's
arrays instead of materialising every node's packet table and display rows. It must give
exactly what :meth:`Monitor.triage` gives from the display rows, at every moment, in every
run: the same counts, sorted durations, done times, running starts and rows, previous-run
figures and slow bounds — and so the same snapshot (progress, ETA, slow counts).
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from support.events import T0, event, iso, table_dir, write_parquet

from orcatui.model.asof import AsOfMonitor, TimeCursor, load_as_of
from orcatui.model.monitor import Monitor, NodeTriage
from orcatui.model.progress import NodeTimes
from orcatui.model.views import View

ETL = ("etl",)
RUNS = ("r1", "r2", "r3")


def _store(root, rnd: random.Random) -> list[float]:
    """Three nodes, three runs (records declaring totals for some nodes; r3 still writing),
    many packets (slow bounds), few in one node (the previous run's durations are used),
    retries, ties on timestamps, a packet that never starts before it ends, duplicates."""
    times: list[float] = []
    for node, size in (("clean", 30), ("fit", 12), ("rare", 3)):
        rows = []
        for run_i, run in enumerate(RUNS):
            for k in range(size if run != "r3" else size // 2 + 1):
                start = T0 + run_i * 400 + k * rnd.choice([1, 2, 3]) + rnd.choice([0, 0.5])
                end = start + rnd.choice([0, 1, 2, 4, 9, 60])  # 60: slow
                state = rnd.choice(["SUCCESS", "SUCCESS", "FAILED", "CACHED", None])
                tags = {"subject": f"s{k}"}
                if k % 7 != 3:  # some packets have no RUNNING event
                    rows.append(event("RUNNING", start, run, **tags))
                if state:
                    error = f"boom {k}" if state == "FAILED" else None
                    rows.append(event(state, end, run, error, **tags))
                    if k % 5 == 0:  # a retry
                        rows.append(event("RUNNING", end + 3, run, **tags))
                        rows.append(event("SUCCESS", end + 6, run, **tags))
                        times += [end + 3, end + 6]
                times += [start, end]
        rnd.shuffle(rows)
        rows.append(dict(rows[0]))  # a duplicate event
        third = len(rows) // 3
        for part in (rows[:third], rows[third : 2 * third], rows[2 * third :]):
            write_parquet(table_dir(root, "etl", (node,)), part)
    runs = root / "etl" / "_runs"
    runs.mkdir(parents=True, exist_ok=True)
    for run_i, run in enumerate(RUNS):
        start = T0 + run_i * 400
        ended = run != "r3"
        data = {
            "run_id": run,
            "pipeline_uri": "etl@0123",
            "host": "elsewhere",
            "pid": 1,
            "started_at": iso(start - 1),
            "heartbeat_at": iso(start + 300),
            "heartbeat_interval_s": 5,
            "ended_at": iso(start + 350) if ended else None,
            "outcome": "completed" if ended else None,
            "nodes": {"clean": {"label": "Cleaning", "total": 30}} if run != "r1" else {},
        }
        (runs / f"{run}.json").write_text(json.dumps(data))
    return sorted(set(times))


def _same_times(a: NodeTimes, b: NodeTimes, where) -> None:
    assert a.counts == b.counts, where
    assert np.array_equal(a.durations, b.durations), where
    assert a.durations.dtype == b.durations.dtype, where
    assert np.array_equal(a.done_ts_us, b.done_ts_us), where
    assert np.array_equal(a.running_started_us, b.running_started_us), where
    assert np.array_equal(a.running_rows, b.running_rows), where


def _same_triage(a: NodeTriage, b: NodeTriage, where) -> None:
    _same_times(a.times, b.times, where)
    assert (a.declared, a.previous_count, a.bound) == (b.declared, b.previous_count, b.bound), where
    assert (a.history is None) == (b.history is None), where
    if a.history is not None and b.history is not None:
        _same_times(a.history, b.history, where)


def _reference(cursor: TimeCursor, at: float) -> AsOfMonitor:
    """The same moment with nothing cached, its triage the monitor's own (display rows)."""
    ref = cursor.monitor_at(at)
    ref.cursor_nodes = {}  # the fast path off: Monitor.triage from the rows
    ref._triage_cache.clear()
    ref._rows_cache.clear()  # (rows cached ordered would number the running rows otherwise)
    ref._display_memo.clear()
    return ref


def _moments(times: list[float]) -> list[float]:
    return [times[0] - 1, *times[::4], times[-1], times[-1] + 1000, times[5] + 0.25]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_triage_equals_the_rows_at_every_moment_and_run(tmp_path, seed):
    times = _store(tmp_path, random.Random(seed))
    cursor = TimeCursor.load(tmp_path, stale_after=50)
    other = TimeCursor.load(tmp_path, stale_after=50)
    checked = 0
    # forwards then backwards: the fast path's cache is carried from moment to moment
    moments = _moments(times)
    for at in [*moments, *reversed(moments)]:
        fast = cursor.monitor_at(at)
        ref = _reference(other, at)
        for run in RUNS:
            if ETL not in fast.pipelines or run not in fast._run_ids(fast.pipelines[ETL]):
                continue
            verdicts = fast.verdicts(ETL)
            got = fast.triage(ETL, run, verdicts, at)
            want = Monitor.triage(ref, ETL, run, ref.verdicts(ETL), at)
            assert got.keys() == want.keys()
            for key in want:
                _same_triage(got[key], want[key], (at - T0, run, key))
                checked += 1
    assert checked > 100  # the moments above do reach the runs and nodes


@pytest.mark.parametrize("seed", [4, 5])
def test_snapshot_figures_are_those_of_the_fold(tmp_path, seed):
    """Progress, ETA, slow counts and bounds in the tree: the cursor's moment (fast triage)
    says what ``summary --at`` (a fold of the store up to the moment) says."""
    times = _store(tmp_path, random.Random(seed))
    cursor = TimeCursor.load(tmp_path, stale_after=50)
    for at in _moments(times):
        folded, _ = load_as_of(tmp_path, at, stale_after=50)
        fast = cursor.monitor_at(at)
        assert fast.cursor_nodes  # the path under test
        for view in (View(), View(run_id="r1"), View(run_id="r2")):
            if ETL not in folded.pipelines:
                continue
            if view.run_id and view.run_id not in folded._run_ids(folded.pipelines[ETL]):
                continue
            a = folded.snapshot({ETL: view}).pipelines[0]
            b = fast.snapshot({ETL: view}).pipelines[0]
            assert a.progress == b.progress, (at - T0, view)
            nodes_a = [(n.key, n.counts, n.progress, n.slow, n.slow_bound) for n in a.nodes]
            nodes_b = [(n.key, n.counts, n.progress, n.slow, n.slow_bound) for n in b.nodes]
            assert nodes_a == nodes_b, (at - T0, view)


def test_fast_path_is_taken_and_the_triage_reused_while_a_node_is_unchanged(tmp_path):
    times = _store(tmp_path, random.Random(9))
    cursor = TimeCursor.load(tmp_path, stale_after=50)
    at = times[len(times) // 2]
    first = cursor.monitor_at(at)
    a = first.triage(ETL, "r2", first.verdicts(ETL), at)
    second = cursor.monitor_at(at + 1e-6)  # no event in between: the same packets
    b = second.triage(ETL, "r2", second.verdicts(ETL), at + 1e-6)
    assert all(a[k] is b[k] for k in a)
    assert all(key in first.cursor_nodes for key in a)


def test_a_moment_from_load_as_of_takes_the_monitors_own_way(tmp_path):
    times = _store(tmp_path, random.Random(2))
    at = times[len(times) // 2]
    folded, _ = load_as_of(tmp_path, at, stale_after=50)
    assert folded.cursor_nodes == {}
    got = folded.triage(ETL, "r2", folded.verdicts(ETL), at)
    assert got and all(t.times.seen for t in got.values())


def test_a_moments_packets_never_share_a_version_with_the_live_ones(tmp_path):
    """The live monitor's cached rows and triage (handed to each moment: nodes with no event
    after it share the live packets) are keyed by the packets' version: a moment's own
    packets must never carry a version live packets can have (folds count up from 0), or the
    moment would show the live rows and figures. (Before the fix moments counted up too.)"""
    from orcatui.model import asof

    rows = []
    for k in range(10):
        rows += [event("RUNNING", T0 + k, "r1", subject=f"s{k}")]
        rows += [event("SUCCESS", T0 + k + 20, "r1", subject=f"s{k}")]
    write_parquet(table_dir(tmp_path, "etl", ("clean",)), rows)
    monitor = Monitor(tmp_path, stale_after=1e9, clock=lambda: T0 + 100)
    monitor.keep_history = True
    monitor.refresh()
    (node,) = monitor.pipelines[ETL].nodes.values()
    # a live node folded as often as the version the next moment's packets would get if
    # moments counted up like folds
    node.packets.version = abs(next(asof._versions)) + 1
    monitor.snapshot()  # the live views, cached by version
    live_rows = monitor.packet_rows(node.key, View(), T0 + 100)
    assert set(live_rows.column("state").to_pylist()) == {"SUCCESS"}
    at = T0 + 25
    moment = TimeCursor(monitor).monitor_at(at)
    folded, _ = load_as_of(tmp_path, at, stale_after=1e9)
    want = folded.packet_rows(node.key, View()).sort_by("key").to_pylist()
    assert {r["state"] for r in want} == {"RUNNING", "SUCCESS"}
    assert moment.packet_rows(node.key, View()).sort_by("key").to_pylist() == want
    a = folded.snapshot().pipelines[0]
    b = moment.snapshot().pipelines[0]
    assert [(n.counts, n.progress) for n in a.nodes] == [(n.counts, n.progress) for n in b.nodes]
