"""``sorted_mad`` (bisection over sorted durations) equals the median of absolute deviations
computed the plain way, ties, even and odd counts, and NaN included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.progress import quantile
from orcatui.model.slow import slow_bound, sorted_mad
from orcatui.model.views import median as views_median

VALUES = st.lists(
    st.one_of(
        st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.5, 3.0, 1e-9, 1e6]),
        st.floats(0, 1e5, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=2000)
@given(VALUES)
def test_sorted_mad_same_as_plain(values):
    d = np.sort(np.array(values, np.float64))
    m = quantile(d, 0.5)
    assert sorted_mad(d, m) == views_median(np.abs(d - m))


def test_sorted_mad_examples():
    d = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    assert sorted_mad(d, 3.0) == 1.0
    d = np.array([1.0, 1.0, 1.0, 1.0])
    assert sorted_mad(d, 1.0) == 0.0
    d = np.array([1.0, 2.0, 4.0, 8.0])
    assert sorted_mad(d, 3.0) == views_median(np.abs(d - 3.0)) == 1.5
    d = np.array([1.0, 2.0, np.nan])
    assert np.isnan(sorted_mad(d, 2.0))


def test_slow_bound_uses_the_spread():
    rng = np.random.default_rng(3)
    d = np.sort(rng.lognormal(1.0, 0.25, 2301))
    b = slow_bound(d)
    med = quantile(d, 0.5)
    mad = views_median(np.abs(d - med))
    assert b is not None and b.bound_s == max(
        med + 3.0 * 1.4826 * mad, quantile(d, 0.95), 1.5 * med, med + 1.0
    )


def test_bound_kept_for_shared_read_only_durations_only():
    from orcatui.model.progress import SortedDurations

    values = np.array([5.0, 1.0, 2.0, 3.0, 4.0, 2.5])
    shared = SortedDurations().sorted("n", np.arange(6), values)
    assert not shared.flags.writeable
    first = slow_bound(shared)
    assert slow_bound(shared) is first  # the same durations: the same bound, not recomputed
    assert slow_bound(shared, min_peers=10) is None  # other arguments: computed for them
    mine = np.sort(values)  # writeable: never kept (it could change under the cache)
    b1 = slow_bound(mine)
    mine[-1] = 100.0
    b2 = slow_bound(mine)
    assert b1 is not None and b2 is not None and b2.bound_s > b1.bound_s
