"""Slow packets: RUNNING packets far past their node's usual duration (issue 10, item 3).

*slow* is a flag on a RUNNING packet, not a state. The bound of a node is robust to outliers::

    bound = max(median + K_MAD · 1.4826 · MAD,   # ≈ K standard deviations for normal data
                p95,                             # never below the 95th percentile
                MIN_RATIO · median,              # all-equal durations (MAD = 0) need a margin
                median + MIN_MARGIN_S)

computed from the node's completed (SUCCESS / FAILED) durations in this run, or — when this run
has fewer than :data:`MIN_PEERS` — in earlier runs. With fewer peers than that anywhere, nothing
is flagged. CACHED packets are not peers (a cache hit does no work).

The bound changes only when data changes; :func:`slow_mask` re-ages packets against it each tick.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.packets import from_numpy
from orcatui.model.progress import NodeTimes, kept_buffer, quantile
from orcatui.model.views import ROW_COLUMNS
from orcatui.model.views import median as views_median

#: No flag without at least this many completed peers.
MIN_PEERS = 5
#: Robust standard deviations above the median.
K_MAD = 3.0
#: MAD → standard deviation for normally distributed durations.
MAD_SCALE = 1.4826
#: The bound is at least this multiple of the median…
MIN_RATIO = 1.5
#: …and at least this many seconds above it.
MIN_MARGIN_S = 1.0

THIS_RUN = "this run"
EARLIER_RUNS = "earlier runs"


@dataclass(frozen=True)
class SlowBound:
    """A node's bound: a RUNNING packet older than ``bound_s`` is slow."""

    typical_s: float  # the median completed duration
    bound_s: float
    peers: int
    source: str  # "this run" | "earlier runs"


#: Bounds of read-only sorted durations that own their data (those ``SortedDurations`` keeps
#: between data changes): a node whose durations did not change keeps its bound.
_BOUNDS: dict[tuple[int, str, int], tuple[np.ndarray, SlowBound | None]] = {}
_BOUNDS_LIMIT = 4096


def slow_bound(
    durations: np.ndarray, *, source: str = THIS_RUN, min_peers: int = MIN_PEERS
) -> SlowBound | None:
    """The bound from sorted completed durations, or None with fewer than ``min_peers``."""
    if durations.flags.writeable or durations.base is not None:
        return _slow_bound(durations, source, min_peers)
    key = (id(durations), source, min_peers)
    hit = _BOUNDS.get(key)
    if hit is not None and hit[0] is durations:
        return hit[1]
    bound = _slow_bound(durations, source, min_peers)
    if len(_BOUNDS) >= _BOUNDS_LIMIT:
        _BOUNDS.clear()
    _BOUNDS[key] = (durations, bound)
    return bound


def _slow_bound(durations: np.ndarray, source: str, min_peers: int) -> SlowBound | None:
    n = len(durations)
    if n < max(min_peers, 1):
        return None
    median = quantile(durations, 0.5)
    mad = sorted_mad(durations, median)
    bound = max(
        median + K_MAD * MAD_SCALE * mad,
        quantile(durations, 0.95),
        MIN_RATIO * median,
        median + MIN_MARGIN_S,
    )
    return SlowBound(median, bound, n, source)


def sorted_mad(durations: np.ndarray, median: float) -> float:
    """The median of ``|durations - median|`` of sorted durations, exactly as
    ``views.median(np.abs(durations - median))`` gives it, in O(log n): the deviations below
    the median (read backwards) and above it are two sorted runs, and the middle of their merge
    is found by bisection instead of a partition of a new array per node."""
    n = len(durations)
    if n == 0 or np.isnan(durations[-1]) or np.isnan(durations[0]):
        return views_median(np.abs(durations - median))  # np.median imports numpy.ma (slow)
    below = int(np.searchsorted(durations, median, side="left"))
    above = n - below

    def dev(i: int, from_below: bool) -> float:
        # i-th smallest deviation of one run; m - d equals |d - m| exactly in IEEE arithmetic
        if from_below:
            return median - float(durations[below - 1 - i])
        return float(durations[below + i]) - median

    def select(t: int) -> float:
        """The t-th smallest (0-based) deviation of the merged runs."""
        lo, hi = max(0, t + 1 - above), min(t + 1, below)
        while True:
            i = (lo + hi) // 2  # taken from below; t + 1 - i from above
            j = t + 1 - i
            if i < hi and j > 0 and dev(j - 1, False) > dev(i, True):
                lo = i + 1
            elif i > lo and j < above and dev(i - 1, True) > dev(j, False):
                hi = i - 1
            else:
                a = dev(i - 1, True) if i > 0 else -np.inf
                b = dev(j - 1, False) if j > 0 else -np.inf
                return float(max(a, b))

    k = n // 2
    if n % 2:
        return select(k)
    return (select(k - 1) + select(k)) / 2


def node_bound(
    times: NodeTimes,
    earlier_durations: np.ndarray | None = None,
    *,
    min_peers: int = MIN_PEERS,
) -> SlowBound | None:
    """This run's bound, else the earlier runs' (sorted durations), else None."""
    bound = slow_bound(times.durations, source=THIS_RUN, min_peers=min_peers)
    if bound is None and earlier_durations is not None:
        bound = slow_bound(earlier_durations, source=EARLIER_RUNS, min_peers=min_peers)
    return bound


def slow_bounds(
    durations: Sequence[np.ndarray], *, source: str = THIS_RUN, min_peers: int = MIN_PEERS
) -> list[SlowBound | None]:
    """:func:`slow_bound` of many sorted arrays at once (the same bounds): the quantiles and
    the MAD bisection of :func:`sorted_mad` run for all arrays together in numpy, instead of
    a few dozen Python steps per array. Bounds kept for unchanged arrays are reused."""
    out: list[SlowBound | None] = [None] * len(durations)
    todo: list[int] = []
    for i, d in enumerate(durations):
        if len(d) < max(min_peers, 1):
            continue
        if not (d.flags.writeable or d.base is not None):
            hit = _BOUNDS.get((id(d), source, min_peers))
            if hit is not None and hit[0] is d:
                out[i] = hit[1]
                continue
        todo.append(i)
    if not todo:
        return out
    arrays = [durations[i] for i in todo]
    lengths = np.fromiter((len(d) for d in arrays), np.int64, len(arrays))
    starts = np.zeros(len(arrays), np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    values = _concatenated(arrays, int(lengths.sum()))
    if np.isnan(values[starts]).any() or np.isnan(values[starts + lengths - 1]).any():
        for i in todo:  # NaN (never from nodes_times): the plain rule, array by array
            out[i] = slow_bound(durations[i], source=source, min_peers=min_peers)
        return out
    median = _quantiles(values, starts, lengths, 0.5)
    mad = _sorted_mads(values, starts, lengths, median)
    bound = np.maximum.reduce(
        [
            median + K_MAD * MAD_SCALE * mad,
            _quantiles(values, starts, lengths, 0.95),
            MIN_RATIO * median,
            median + MIN_MARGIN_S,
        ]
    )
    for i, med, b, n in zip(todo, median.tolist(), bound.tolist(), lengths.tolist(), strict=True):
        found = out[i] = SlowBound(med, b, n, source)
        d = durations[i]
        if not (d.flags.writeable or d.base is not None):
            if len(_BOUNDS) >= _BOUNDS_LIMIT:
                _BOUNDS.clear()
            _BOUNDS[(id(d), source, min_peers)] = (d, found)
    return out


_WORK = threading.local()
_NO_BUFFER = np.empty(0, np.float64)


def _concatenated(arrays: list[np.ndarray], total: int) -> np.ndarray:
    """The arrays one after the other, in a buffer kept per thread (a fresh multi-megabyte
    array is page-faulted in on every call, which costs more than the work)."""
    _WORK.buffer, out = kept_buffer(getattr(_WORK, "buffer", _NO_BUFFER), total)
    return np.concatenate(arrays, out=out)


def _quantiles(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, q: float) -> np.ndarray:
    """:func:`quantile` of each sorted segment ``values[starts[i]:starts[i] + lengths[i]]``
    (the same arithmetic, element by element)."""
    pos = q * (lengths - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, lengths - 1)
    frac = pos - lo
    return values[starts + lo] * (1 - frac) + values[starts + hi] * frac


def _sorted_mads(
    values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, median: np.ndarray
) -> np.ndarray:
    """:func:`sorted_mad` of each sorted, NaN-free segment (the same selection, run for all
    segments at once)."""
    # below: how many durations of each segment are < its median (np.searchsorted "left")
    lo = np.zeros(len(lengths), np.int64)
    hi = lengths.copy()
    active = lo < hi
    while active.any():
        mid = (lo + hi) // 2
        less = np.take(values, starts + mid, mode="clip") < median
        lo = np.where(active & less, mid + 1, lo)
        hi = np.where(active & ~less, mid, hi)
        active = lo < hi
    below = lo
    # The middle deviation(s): the k-th smallest of the deviations below the median (read
    # backwards) and above it, two sorted runs; even counts need the (k-1)-th too. Both are
    # selected in one bisection over all segments.
    k = lengths // 2
    even = np.flatnonzero(lengths % 2 == 0)
    seg = np.concatenate([np.arange(len(lengths)), even])
    t = np.concatenate([k, k[even] - 1])
    m = median[seg]
    n_below = below[seg]
    n_above = lengths[seg] - n_below
    top_below = starts[seg] + n_below - 1  # the deviation i below: m - values[top_below - i]
    first_above = starts[seg] + n_below  # the deviation j above: values[first_above + j] - m

    def dev_below(i: np.ndarray) -> np.ndarray:
        return m - np.take(values, top_below - i, mode="clip")

    def dev_above(j: np.ndarray) -> np.ndarray:
        return np.take(values, first_above + j, mode="clip") - m

    lo = np.maximum(0, t + 1 - n_above)
    hi = np.minimum(t + 1, n_below)
    result = np.zeros(len(t), np.float64)
    open_ = np.ones(len(t), bool)
    while open_.any():
        i = (lo + hi) // 2
        j = t + 1 - i
        below_i = dev_below(i)
        above_j1 = dev_above(j - 1)
        up = open_ & (i < hi) & (j > 0) & (above_j1 > below_i)
        down = open_ & ~up & (i > lo) & (j < n_above) & (dev_below(i - 1) > dev_above(j))
        done = open_ & ~up & ~down
        a = np.where(i > 0, dev_below(i - 1), -np.inf)
        b = np.where(j > 0, above_j1, -np.inf)
        result = np.where(done, np.maximum(a, b), result)
        lo = np.where(up, i + 1, lo)
        hi = np.where(down, i - 1, hi)
        open_ &= ~done
    mads = result[: len(lengths)].copy()
    mads[even] = (result[len(lengths) :] + mads[even]) / 2
    return mads


def nodes_bounds(
    times: Sequence[NodeTimes],
    earlier: Sequence[np.ndarray | None] | None = None,
    *,
    min_peers: int = MIN_PEERS,
) -> list[SlowBound | None]:
    """:func:`node_bound` of many nodes at once (``earlier``: one entry per node or None)."""
    out = slow_bounds([t.durations for t in times], source=THIS_RUN, min_peers=min_peers)
    if earlier is not None:
        for i, e in enumerate(earlier):
            if out[i] is None and e is not None:
                out[i] = slow_bound(e, source=EARLIER_RUNS, min_peers=min_peers)
    return out


def slow_mask(times: NodeTimes, n_rows: int, now: float, bound: SlowBound | None) -> np.ndarray:
    """One bool per display row: RUNNING for longer than the bound at ``now`` (epoch s)."""
    mask = np.zeros(n_rows, dtype=bool)
    if bound is None or len(times.running_rows) == 0:
        return mask
    cutoff_us = (now - bound.bound_s) * 1e6
    mask[times.running_rows[times.running_started_us < cutoff_us]] = True
    return mask


@dataclass(frozen=True)
class SlowPacket:
    """One flagged packet, as ``summary --json`` lists it per node."""

    key: str
    run_id: str
    tags: dict[str, Any]
    running_for_s: float
    typical_s: float
    bound_s: float

    def to_json(self) -> dict[str, Any]:
        """``{"run_id", "tags", "running_for_s", "typical_s", "bound_s"}``."""
        return {
            "run_id": self.run_id,
            "tags": self.tags,
            "running_for_s": round(self.running_for_s, 3),
            "typical_s": round(self.typical_s, 3),
            "bound_s": round(self.bound_s, 3),
        }


def slow_packets(
    rows: pa.Table, times: NodeTimes, now: float, bound: SlowBound | None
) -> list[SlowPacket]:
    """The slow packets of a node, longest running first.

    ``rows``: the display rows ``times`` was computed from, or any of their rows in the same
    order that include all RUNNING ones (``Monitor.problem_rows``): the RUNNING rows with a
    known start are those ``times.running_rows`` indexes, in that order.
    """
    if bound is None or not len(times.running_rows):
        return []
    running = pc.and_(
        pc.equal(rows.column("state"), "RUNNING"), pc.is_valid(rows.column("started_us"))
    )
    at = np.flatnonzero(pc.fill_null(running, False).to_numpy(zero_copy_only=False))
    if len(at) != len(times.running_rows):
        raise ValueError("slow_packets: the rows are not those the times were computed from")
    cutoff_us = (now - bound.bound_s) * 1e6
    picked = at[times.running_started_us < cutoff_us]
    if not len(picked):
        return []
    tag_cols = [c for c in rows.column_names if c not in ROW_COLUMNS]
    flagged = rows.select(["key", "run_id", "started_us", *tag_cols]).take(from_numpy(picked))
    out = [
        SlowPacket(
            key=r["key"],
            run_id=r["run_id"],
            tags={c: r[c] for c in tag_cols},
            running_for_s=max(0.0, now - r["started_us"] / 1e6),
            typical_s=bound.typical_s,
            bound_s=bound.bound_s,
        )
        for r in flagged.to_pylist()
    ]
    out.sort(key=lambda p: -p.running_for_s)
    return out


def earlier_durations(rows: pa.Table, current_run: str | None) -> np.ndarray:
    """Sorted completed (SUCCESS / FAILED) durations of display rows of runs other than
    ``current_run`` — e.g. the node's rows in the all-runs view, or an earlier run's rows."""
    if rows.num_rows == 0:
        return np.empty(0, np.float64)
    keep = pc.is_in(rows.column("state"), pa.array(["SUCCESS", "FAILED"]))
    if current_run is not None:
        keep = pc.and_(keep, pc.not_equal(rows.column("run_id"), current_run))
    d = pc.drop_null(pc.filter(rows.column("duration_s"), pc.fill_null(keep, False)))
    arr = pc.cast(d, pa.float64()).to_numpy()
    return np.sort(arr[np.isfinite(arr) & (arr >= 0)])
