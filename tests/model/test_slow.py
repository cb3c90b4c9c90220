"""Slow-packet flags (issue 10, item 3): robust bound, peers, fallback to earlier runs."""

from __future__ import annotations

import numpy as np
from support.events import T0, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.progress import node_times
from orcatui.model.slow import (
    EARLIER_RUNS,
    MIN_PEERS,
    THIS_RUN,
    earlier_durations,
    node_bound,
    slow_bound,
    slow_mask,
    slow_packets,
)
from orcatui.model.views import View

NODE = (("etl",), ("fit",))


def monitor(tmp_path, rows) -> Monitor:
    write_status(tmp_path, "etl", ("fit",), rows)
    m = Monitor(tmp_path, stale_after=10**9)
    m.refresh()
    return m


def done(run: str, durations, start: float = T0, prefix: str = "d"):
    out = []
    for i, d in enumerate(durations):
        out += packet(run, start + i, start + i + d, "SUCCESS", sample=f"{prefix}{i}")
    return out


def test_running_packet_far_beyond_peers_is_flagged_with_its_figures(tmp_path):
    durations = [10, 12, 8, 10, 14, 10, 12, 8]
    rows = done("r1", durations)
    rows += packet("r1", T0 + 20, None, "", sample="stuck")
    rows += packet("r1", T0 + 100, None, "", sample="young")
    m = monitor(tmp_path, rows)
    now = T0 + 110
    table = m.packet_rows(NODE, now=now)
    times = node_times(table)
    bound = node_bound(times)
    assert bound is not None and bound.source == THIS_RUN and bound.peers == len(durations)
    assert bound.typical_s == 10.0
    # median 10, MAD 2 → 10 + 3 × 1.4826 × 2 = 18.9 > p95 (13.3), 1.5 × median, median + 1
    assert abs(bound.bound_s - (10 + 6 * 1.4826)) < 1e-9
    (slow,) = slow_packets(table, times, now, bound)
    assert slow.tags == {"sample": "stuck"} and slow.run_id == "r1"
    assert abs(slow.running_for_s - 90) < 1e-6
    assert slow.to_json() == {
        "run_id": "r1",
        "tags": {"sample": "stuck"},
        "running_for_s": 90.0,
        "typical_s": 10.0,
        "bound_s": round(10 + 6 * 1.4826, 3),
    }
    # Re-aged at a later tick, the young packet becomes slow too (no recomputation of bound).
    mask = slow_mask(times, table.num_rows, T0 + 100 + 19, bound)
    flagged = set(table.filter(mask).column("sample").to_pylist())
    assert flagged == {"stuck", "young"}


def test_not_enough_peers_no_flag(tmp_path):
    rows = done("r1", [1.0] * (MIN_PEERS - 1))
    rows += packet("r1", T0, None, "", sample="long")
    m = monitor(tmp_path, rows)
    now = T0 + 10_000
    table = m.packet_rows(NODE, now=now)
    times = node_times(table)
    assert node_bound(times) is None
    assert slow_packets(table, times, now, node_bound(times)) == []
    assert not slow_mask(times, table.num_rows, now, None).any()


def test_cached_packets_are_not_peers(tmp_path):
    rows = done("r1", [1.0] * 2)
    for i in range(10):
        rows += packet("r1", T0 + i, T0 + i + 0.001, "CACHED", sample=f"c{i}")
    rows += packet("r1", T0, None, "", sample="long")
    m = monitor(tmp_path, rows)
    assert node_bound(node_times(m.packet_rows(NODE, now=T0 + 100))) is None


def test_falls_back_to_earlier_runs(tmp_path):
    rows = done("r0", [5, 6, 5, 4, 5, 6, 5], start=T0 - 1000)
    rows += done("r1", [5], start=T0)  # too few in this run
    rows += packet("r1", T0 + 2, None, "", sample="long")
    m = monitor(tmp_path, rows)
    now = T0 + 60
    table = m.packet_rows(NODE, now=now)
    assert set(table.column("run_id").to_pylist()) == {"r1"}
    times = node_times(table)
    earlier = earlier_durations(m.packet_rows(NODE, View(all_runs=True), now=now), "r1")
    assert list(earlier) == [4, 5, 5, 5, 6, 6]  # d0 was re-run in r1: its r0 row is not latest
    bound = node_bound(times, earlier)
    assert bound is not None and bound.source == EARLIER_RUNS and bound.typical_s == 5.0
    (slow,) = slow_packets(table, times, now, bound)
    assert slow.tags == {"sample": "long"} and slow.typical_s == 5.0
    assert node_bound(times, np.array([5.0, 5.0])) is None  # earlier runs too few as well


def test_mad_zero_needs_a_margin():
    same = np.full(20, 2.0)
    bound = slow_bound(same)
    assert bound is not None and bound.typical_s == 2.0
    assert bound.bound_s == 3.0  # max(2 + 0, p95 = 2, 1.5 × 2, 2 + 1)
    tiny = slow_bound(np.full(20, 0.01))
    assert tiny is not None and abs(tiny.bound_s - 1.01) < 1e-9


def test_p95_floor_with_a_heavy_tail():
    d = np.sort(np.array([1.0] * 90 + [100.0] * 10))
    bound = slow_bound(d)
    assert bound is not None and bound.typical_s == 1.0
    assert bound.bound_s >= 100.0  # p95 = 100: the long tail is normal for this node


def test_lost_and_unstarted_packets_are_never_slow(tmp_path):
    rows = done("r1", [1.0] * 6)
    rows += packet("r1", T0, None, "", sample="old")
    m = Monitor(tmp_path, stale_after=100)
    write_status(tmp_path, "etl", ("fit",), rows)
    m.refresh()
    now = T0 + 1000  # the run is over: the RUNNING packet is LOST
    table = m.packet_rows(NODE, now=now)
    assert "LOST" in table.column("state").to_pylist()
    times = node_times(table)
    assert slow_packets(table, times, now, node_bound(times)) == []
