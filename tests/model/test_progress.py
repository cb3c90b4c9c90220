"""Progress and ETA (issue 10, item 1): expected totals, rate, ETA ranges, formatting."""

from __future__ import annotations

import numpy as np
from support.events import T0, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.progress import (
    DECLARED,
    PREVIOUS_RUN,
    Progress,
    declared_totals,
    expected_total,
    format_eta,
    format_progress,
    node_progress,
    node_times,
    nodes_times,
    previous_run,
    run_progress,
)

NODE = (("etl",), ("clean",))


def load(tmp_path, rows, stale_after: float = 10**9) -> Monitor:
    write_status(tmp_path, "etl", ("clean",), rows)
    m = Monitor(tmp_path, stale_after=stale_after)
    m.refresh()
    return m


def run_rows(run: str, start: float, durations, running: int = 0, failed: int = 0):
    """Packets one after another; ``failed`` of them FAILED; ``running`` still RUNNING."""
    rows, t = [], start
    for i, d in enumerate(durations):
        state = "FAILED" if i < failed else "SUCCESS"
        rows += packet(run, t, t + d, state, "boom" if state == "FAILED" else None, s=f"{i}")
        t += d
    for j in range(running):
        rows += packet(run, t, None, "", s=f"run{j}")
    return rows, t


def test_eta_from_a_known_previous_run(tmp_path):
    old, _ = run_rows("r0", T0, [10.0] * 20)
    new, t = run_rows("r1", T0 + 1000, [8, 10, 12, 10, 10], running=2)
    m = load(tmp_path, old + new)
    now = t + 5
    verdicts = m.verdicts(("etl",), now)
    runs = [r.run_id for r in m.run_infos(("etl",), now, verdicts)]
    live = {r: v.live for r, v in verdicts.items()}
    assert not live["r0"] and previous_run(runs, live, "r1") == "r0"
    rows = m.packet_rows(NODE, now=now, verdicts=verdicts)
    times = node_times(rows)
    assert times.done == 5 and times.counts["RUNNING"] == 2
    p = node_progress(times, now, previous_count=20)
    assert (p.done, p.expected, p.expected_from) == (5, 20, PREVIOUS_RUN)
    # remaining 15 over 2 running: p25 = 10, p75 = 10, median 10 → 75 s
    assert p.eta_s == (75.0, 75.0) and p.eta_mid_s == 75.0
    assert format_eta(p) == "~75s"
    # all 5 ended within the last minute (their ends are t-40 … t)
    assert p.rate_per_min == 5.0
    assert p.to_json() == {
        "done": 5,
        "expected": 20,
        "expected_from": "previous run",
        "rate_per_min": 5.0,
        "eta_s": [75.0, 75.0],
    }


def test_no_previous_run_and_no_declaration_means_unknown(tmp_path):
    rows, t = run_rows("r1", T0, [1.0] * 10, running=1)
    m = load(tmp_path, rows)
    times = node_times(m.packet_rows(NODE, now=t + 1))
    p = node_progress(times, t + 1)
    assert p.expected is None and p.expected_from is None and p.eta_s is None
    assert format_eta(p) == "?" and format_progress(p) == "10/?"
    assert p.to_json()["eta_s"] is None and p.fraction is None


def test_declared_total_wins_and_eta_range_from_spread(tmp_path):
    durations = [60.0, 120.0, 180.0, 240.0, 300.0]  # p25 120, median 180, p75 240
    rows, t = run_rows("r1", T0, durations, running=3)
    m = load(tmp_path, rows)
    times = node_times(m.packet_rows(NODE, now=t))
    p = node_progress(times, t, declared=11, previous_count=500)
    assert (p.expected, p.expected_from) == (11, DECLARED)
    # remaining 6 / 3 running = 2 each: 2 × 120 … 2 × 240, mid 2 × 180
    assert p.eta_s == (240.0, 480.0) and p.eta_mid_s == 360.0
    assert format_eta(p) == "~6m (4–8m)"
    assert p.fraction == 5 / 11


def test_too_few_completed_uses_history_durations_else_unknown(tmp_path):
    rows, t = run_rows("r1", T0, [5.0, 5.0], running=1)
    m = load(tmp_path, rows)
    times = node_times(m.packet_rows(NODE, now=t))
    assert node_progress(times, t, declared=10).eta_s is None
    p = node_progress(times, t, declared=10, history_durations=np.array([4.0, 6.0, 8.0]))
    assert p.eta_s == (8 * 5.0, 8 * 7.0)


def test_a_run_that_is_not_live_gets_no_eta(tmp_path):
    rows, t = run_rows("r1", T0, [1.0] * 5, running=1)
    m = load(tmp_path, rows, stale_after=60)
    now = t + 3600
    times = node_times(m.packet_rows(NODE, now=now))
    assert times.counts["LOST"] == 1 and times.counts["RUNNING"] == 0
    p = node_progress(times, now, declared=10, live=False)
    assert p.eta_s is None and p.done == 5 and p.rate_per_min == 0.0


def test_finished_node_has_zero_eta_and_outgrown_estimate_is_dropped(tmp_path):
    rows, t = run_rows("r1", T0, [1.0] * 5)
    m = load(tmp_path, rows)
    times = node_times(m.packet_rows(NODE, now=t))
    done = node_progress(times, t, previous_count=5)
    assert done.eta_s == (0.0, 0.0) and format_eta(done) == "~0s"
    assert expected_total(None, 3, seen=5) == (None, None)  # previous run had fewer: no estimate
    assert expected_total(None, 0, seen=0) == (None, None)


def test_declared_totals_largest_across_writers_bad_values_warned():
    warnings: list[str] = []
    records = [
        {"run_id": "r1", "nodes": {"clean": {"total": 200}, "fit": {"total": 5}}},
        {
            "run_id": "r1",
            "nodes": {"clean": {"total": 150}, "fit": {"total": "lots"}},
            "_record_path": "etl/_runs/r1/h-1-abcd.json",
        },
        {"run_id": "r1", "nodes": {"fit": {"total": True}, "x": {"total": -3}, "y": "junk"}},
        {"run_id": "r2", "nodes": {"clean": {"total": 999}}},
        "not a record",
    ]
    assert declared_totals(records, "r1", warnings.append) == {"clean": 200, "fit": 5}
    assert len(warnings) == 3
    assert "etl/_runs/r1/h-1-abcd.json" in warnings[0] and "'lots'" in warnings[0]


def test_previous_run_skips_live_runs_and_needs_current():
    runs = ["r3", "r2", "r1", "r0"]
    live = {"r3": True, "r2": True, "r1": False, "r0": False}
    assert previous_run(runs, live, "r3") == "r1"
    assert previous_run(runs, live, "r0") is None
    assert previous_run(runs, live, None) is None


def test_run_progress_combines_nodes():
    a = Progress(5, 10, DECLARED, 2.0, (10.0, 20.0), 15.0, 1)
    b = Progress(3, 4, PREVIOUS_RUN, 1.0, (5.0, 30.0), 10.0, 1)
    r = run_progress([a, b])
    assert (r.done, r.expected, r.expected_from, r.rate_per_min) == (8, 14, PREVIOUS_RUN, 3.0)
    assert r.eta_s == (10.0, 30.0) and r.eta_mid_s == 15.0  # both started: side by side
    later = Progress(0, 9, DECLARED, 0.0, (5.0, 7.0), 6.0, 0)  # not started: runs after them
    assert run_progress([a, b, later]).eta_s == (10.0, 37.0)
    c = Progress(1, None, None, 0.0, None, None, 1)
    assert run_progress([a, c]).expected is None and run_progress([a, c]).eta_s is None


def test_format_eta_units():
    assert format_eta(Progress(0, 1, DECLARED, 0, (3 * 3600, 5 * 3600), 4 * 3600)) == "~4h (3–5h)"
    assert format_eta(Progress(0, 1, DECLARED, 0, (20, 50), 30)) == "~30s (20–50s)"
    assert format_eta(None) == "?"


def test_nodes_times_in_one_pass_equals_per_node(tmp_path):
    rows, t = run_rows("r1", T0, [1.0, 2.0, 3.0, 4.0], running=2, failed=1)
    m = load(tmp_path, rows)
    table = m.packet_rows(NODE, now=t + 1)
    empty = table.slice(0, 0)
    batch = nodes_times([table, empty, table.slice(2)])
    for got, want in zip(
        batch, [node_times(table), node_times(empty), node_times(table.slice(2))], strict=True
    ):
        assert got.counts == want.counts
        assert np.array_equal(got.durations, want.durations)
        assert np.array_equal(got.running_rows, want.running_rows)
        assert np.array_equal(got.done_ts_us, want.done_ts_us)
    assert batch[0].counts["FAILED"] == 1 and batch[0].counts["RUNNING"] == 2
    assert list(batch[0].durations) == [1.0, 2.0, 3.0, 4.0]
    assert nodes_times([]) == []
