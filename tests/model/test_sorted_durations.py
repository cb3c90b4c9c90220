"""``SortedDurations``: a node's sorted completed durations kept between calls equal a fresh
sort whatever the rows do (completions, appended rows, changed or vanished rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.progress import SortedDurations, nodes_times

STEP = st.lists(
    st.tuples(st.booleans(), st.sampled_from([0.5, 1.0, 1.0, 2.0, 3.25, 7.0, 0.0])),
    max_size=40,
)


@settings(max_examples=400)
@given(st.lists(STEP, min_size=1, max_size=6))
def test_same_as_a_fresh_sort(steps):
    cache = SortedDurations()
    for step in steps:
        rows = np.array([i for i, (done, _) in enumerate(step) if done], np.int64)
        values = np.array([d for done, d in step if done], np.float64)
        got = cache.sorted("node", rows, values)
        assert np.array_equal(got, np.sort(values))


def test_same_durations_reused_changed_sorted_again():
    cache = SortedDurations()
    first = cache.sorted("n", np.array([0, 2, 5]), np.array([3.0, 1.0, 2.0]))
    assert first.tolist() == [1.0, 2.0, 3.0]
    again = cache.sorted("n", np.array([0, 2, 5]), np.array([3.0, 1.0, 2.0]))
    assert again is first  # nothing new: the same sorted array
    grown = cache.sorted("n", np.array([0, 1, 2, 5, 9]), np.array([3.0, 9.0, 1.0, 2.0, 0.5]))
    assert grown.tolist() == [0.5, 1.0, 2.0, 3.0, 9.0]
    moved = cache.sorted("n", np.array([0, 1, 2, 6, 9]), np.array([3.0, 9.0, 1.0, 2.0, 0.5]))
    assert moved.tolist() == grown.tolist() and moved is not grown
    changed = cache.sorted("n", np.array([0, 1, 2, 6, 9]), np.array([3.0, 9.0, 4.0, 2.0, 0.5]))
    assert changed.tolist() == [0.5, 2.0, 3.0, 4.0, 9.0]
    assert cache.sorted("other", np.array([0]), np.array([5.0])).tolist() == [5.0]


def _rows(states: list[str], durations: list[float | None]) -> pa.Table:
    n = len(states)
    return pa.table(
        {
            "state": pa.array(states, pa.string()),
            "duration_s": pa.array(durations, pa.float64()),
            "started_us": pa.array([1_000_000 * (i + 1) for i in range(n)], pa.int64()),
            "ts_us": pa.array([2_000_000 * (i + 1) for i in range(n)], pa.int64()),
        }
    )


def test_nodes_times_with_a_cache_same_as_without():
    cache = SortedDurations()
    a = _rows(["SUCCESS", "RUNNING", "FAILED", "CACHED"], [4.0, 1.0, 2.0, 0.001])
    b = _rows(["SUCCESS", "SUCCESS", "FAILED", "CACHED", "RUNNING"], [4.0, 3.0, 2.0, 0.001, 0.5])
    for tables in ([a, b], [b, b], [b, a], [a, a]):
        plain = nodes_times(tables)
        kept = nodes_times(tables, keys=["x", "y"], cache=cache)
        for p, k in zip(plain, kept, strict=True):
            assert p.counts == k.counts
            assert p.durations.tolist() == k.durations.tolist()
            assert p.done_ts_us.tolist() == k.done_ts_us.tolist()
            assert p.running_rows.tolist() == k.running_rows.tolist()
