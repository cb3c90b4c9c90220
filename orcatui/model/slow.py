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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.progress import NodeTimes, quantile
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
    """The slow packets of a node's display rows, longest running first."""
    mask = slow_mask(times, rows.num_rows, now, bound)
    if bound is None or not mask.any():
        return []
    tag_cols = [c for c in rows.column_names if c not in ROW_COLUMNS]
    flagged = rows.select(["key", "run_id", "started_us", *tag_cols]).take(np.flatnonzero(mask))
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
