"""The batch fast paths of issue 10's triage equal the straightforward computation:
``nodes_times`` with kept sorted durations (merged, not re-sorted) over a sequence of changing
tables equals a fresh per-node computation, and ``slow_bounds`` / ``nodes_bounds`` (vectorised
over nodes) equal ``slow_bound`` / ``node_bound`` node by node."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.progress import STATES, SortedDurations, nodes_times
from orcatui.model.slow import (
    EARLIER_RUNS,
    THIS_RUN,
    node_bound,
    nodes_bounds,
    slow_bound,
    slow_bounds,
)

STATE = st.sampled_from([*STATES, "BOGUS", None])
DURATION = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.5, 3.0, 1e-9, 1e6, -1.0, float("nan")]),
    st.floats(0, 1e5, allow_nan=False, allow_infinity=False),
)
ROW = st.tuples(STATE, DURATION, st.one_of(st.none(), st.integers(0, 10**12)))


def _table(rows: list[tuple]) -> pa.Table:
    return pa.table(
        {
            "state": pa.array([r[0] for r in rows], pa.string()),
            "duration_s": pa.array([r[1] for r in rows], pa.float64()),
            "started_us": pa.array([r[2] for r in rows], pa.int64()),
            "ts_us": pa.array([None if r[2] is None else r[2] + 7 for r in rows], pa.int64()),
        }
    )


def _plain(table: pa.Table) -> dict:
    """Each field of a node's times, computed row by row in Python."""
    rows = table.to_pylist()
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    durations = sorted(
        r["duration_s"]
        for r in rows
        if r["state"] in ("SUCCESS", "FAILED")
        and r["duration_s"] is not None
        and 0 <= r["duration_s"] < float("inf")
    )
    done = [
        r["ts_us"]
        for r in rows
        if r["state"] in ("SUCCESS", "FAILED", "CACHED") and r["ts_us"] is not None
    ]
    running = [
        (i, r["started_us"])
        for i, r in enumerate(rows)
        if r["state"] == "RUNNING" and r["started_us"] is not None
    ]
    return {
        "counts": counts,
        "durations": durations,
        "done_ts_us": done,
        "running_rows": [i for i, _ in running],
        "running_started_us": [s for _, s in running],
    }


def _edit(
    rows: list[tuple], edits: list[tuple[int, tuple]], grow: list[tuple], cut: int | None
) -> list[tuple]:
    """Rows after some of them changed (state, duration), the last ones went (``cut``) and
    new ones were appended."""
    out = list(rows)
    for at, row in edits:
        if out:
            out[at % len(out)] = row
    if cut is not None:
        out = out[: max(len(out) - cut, 0)]
    return out + grow


NODE = st.lists(ROW, max_size=30)
EDITS = st.lists(st.tuples(st.integers(0, 100), ROW), max_size=4)
STEP = st.tuples(EDITS, st.lists(ROW, max_size=4), st.none() | st.integers(1, 3))


@settings(max_examples=300, deadline=None)
@given(st.lists(NODE, min_size=1, max_size=5), st.lists(st.lists(STEP, max_size=5), max_size=5))
def test_kept_durations_over_changes_equal_a_fresh_computation(nodes, changes):
    cache = SortedDurations()
    keys = [f"node{i}" for i in range(len(nodes))]
    base = [("SUCCESS", float(d % 7) / 2, 5) for d in range(40)]  # merges, not fresh sorts
    steps = [[base + rows for rows in nodes]]
    for change in changes:
        prev = steps[-1]
        steps.append(
            [_edit(rows, *change[i]) if i < len(change) else rows for i, rows in enumerate(prev)]
        )
    for step in steps:
        tables = [_table(rows) for rows in step]
        got = nodes_times(tables, keys, cache)
        for table, times in zip(tables, got, strict=True):
            want = _plain(table)
            assert times.counts == want["counts"]
            assert times.durations.tolist() == want["durations"]
            assert times.done_ts_us.tolist() == want["done_ts_us"]
            assert times.running_rows.tolist() == want["running_rows"]
            assert times.running_started_us.tolist() == want["running_started_us"]
            assert not times.durations.flags.writeable  # shared between calls


def test_unchanged_durations_are_the_same_array_and_appended_rows_merge():
    cache = SortedDurations()
    rows = [("SUCCESS", float(d), 10) for d in (5, 1, 4, 2, 3, 9, 7, 8)]
    (first,) = nodes_times([_table(rows)], ["n"], cache)
    more = [*rows, ("RUNNING", None, 11)]
    (again,) = nodes_times([_table(more)], ["n"], cache)
    assert again.durations is first.durations  # a new RUNNING packet: nothing sorted again
    done = [*rows, ("SUCCESS", 6.0, 11), ("FAILED", 0.5, 12)]
    (grown,) = nodes_times([_table(done)], ["n"], cache)
    assert grown.durations.tolist() == [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    changed = [("SUCCESS", 4.5, 10), *done[1:]]  # the first packet ran again, 4.5 s
    (moved,) = nodes_times([_table(changed)], ["n"], cache)
    assert moved.durations.tolist() == [0.5, 1, 2, 3, 4, 4.5, 6, 7, 8, 9]
    dupes = [("SUCCESS", 1.0, 10)] * 4 + [("SUCCESS", 2.0, 10)] * 40
    nodes_times([_table(dupes)], ["d"], cache)
    fewer = [("SUCCESS", 2.0, 10)] * 3 + [("CACHED", None, 10)] + dupes[4:]
    (b,) = nodes_times([_table(fewer)], ["d"], cache)  # equal values dropped and added
    assert b.durations.tolist() == [2.0] * 43


SORTED = st.lists(
    st.one_of(
        st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.5, 3.0, 1e-9, 1e6]),
        st.floats(0, 1e5, allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
).map(lambda v: np.sort(np.array(v, np.float64)))


@settings(max_examples=500, deadline=None)
@given(st.lists(SORTED, max_size=8), st.integers(1, 7))
def test_slow_bounds_equal_slow_bound(arrays, min_peers):
    for source in (THIS_RUN, EARLIER_RUNS):
        want = [slow_bound(a, source=source, min_peers=min_peers) for a in arrays]
        assert slow_bounds(arrays, source=source, min_peers=min_peers) == want


def test_slow_bounds_with_nan_and_kept_arrays():
    with_nan = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    plain = np.sort(np.random.default_rng(5).lognormal(1.0, 0.3, 501))
    got = slow_bounds([with_nan, plain])  # NaN bounds: compared as text (nan != nan)
    assert repr(got) == repr([slow_bound(with_nan), slow_bound(plain)])
    shared = SortedDurations().sorted("k", np.arange(501), plain)
    (first,) = slow_bounds([shared])
    (again,) = slow_bounds([shared])
    assert again is first and first == slow_bound(plain)


@settings(max_examples=200, deadline=None)
@given(st.lists(NODE, min_size=1, max_size=5), st.lists(st.none() | SORTED, max_size=5))
def test_nodes_bounds_equal_node_bound(nodes, earlier):
    times = nodes_times([_table(rows) for rows in nodes])
    earlier = (earlier + [None] * len(times))[: len(times)]
    want = [node_bound(t, e) for t, e in zip(times, earlier, strict=True)]
    assert nodes_bounds(times, earlier) == want
    assert nodes_bounds(times) == [node_bound(t) for t in times]


def test_buffers_too_large_to_keep_give_the_same_results(monkeypatch):
    """Above ``KEEP_ELEMENTS`` the buffers are made per call: the same results."""
    from orcatui.model import progress

    monkeypatch.setattr(progress, "KEEP_ELEMENTS", 4)
    cache = SortedDurations()
    rows = [("SUCCESS", float(d % 5), 10) for d in range(30)] + [("RUNNING", None, 11)]
    tables = [_table(rows), _table(rows[:7])]
    nodes_times(tables, ["a", "b"], cache)
    grown = [_table([*rows, ("FAILED", 9.5, 12)]), _table(rows[1:9])]
    for table, times in zip(grown, nodes_times(grown, ["a", "b"], cache), strict=True):
        assert times.durations.tolist() == _plain(table)["durations"]
        assert times.counts == _plain(table)["counts"]
    assert slow_bounds([t.durations for t in nodes_times(grown)]) == [
        slow_bound(t.durations) for t in nodes_times(grown)
    ]
