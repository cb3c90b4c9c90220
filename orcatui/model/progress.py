"""Progress and ETA per node and per run (issue 10, item 1).

* ``done``: packets in a terminal state (SUCCESS, FAILED, CACHED).
* ``expected``: the total a writer declared for the node in the run record (the largest
  declaration across writers), else the node's packet count in the newest earlier run of the
  pipeline that is over (its verdict not live), else unknown. An estimate from a previous run that
  this run has already outgrown is dropped (unknown), never stretched.
* ``rate_per_min``: packets done during the last minute.
* ``eta_s``: ``[low, high]`` = remaining × the node's p25 / p75 completed duration ÷ the observed
  concurrency (packets running now, at least 1); ``None`` whenever any part is unknown.

The work is split so that a tick is cheap: :func:`node_times` extracts numpy arrays from a
node's display rows once per data change; :func:`node_progress` only re-ages them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Codes of :func:`node_times` (index into this tuple).
STATES = ("SUCCESS", "FAILED", "CACHED", "RUNNING", "LOST")
_SUCCESS, _FAILED, _CACHED, _RUNNING, _LOST = range(5)
_STATE_SET = pa.array(STATES, pa.string())
#: The rate is measured over this many seconds.
RATE_WINDOW_S = 60.0
#: Fewer completed durations than this: no typical duration, so no ETA.
MIN_DURATIONS = 3
#: A declared total above this is not believed (a bad value, not a pipeline).
MAX_TOTAL = 10**12

DECLARED = "declared"
PREVIOUS_RUN = "previous run"


@dataclass(frozen=True)
class NodeTimes:
    """The numbers of one node's display rows that progress, ETA and slow flags need."""

    counts: dict[str, int]
    durations: np.ndarray  # sorted, seconds, of SUCCESS/FAILED packets with a known start
    done_ts_us: np.ndarray  # µs, when each done packet ended
    running_started_us: np.ndarray  # µs, RUNNING packets with a known start
    running_rows: np.ndarray  # their row indices in the display rows

    @property
    def done(self) -> int:
        """Packets in a terminal state."""
        return self.counts["SUCCESS"] + self.counts["FAILED"] + self.counts["CACHED"]

    @property
    def seen(self) -> int:
        """All packets of the rows."""
        return sum(self.counts.values())


def node_times(rows: pa.Table) -> NodeTimes:
    """Extract a node's :class:`NodeTimes` from display rows (once per data change)."""
    return nodes_times([rows])[0]


class SortedDurations:
    """Per node (any hashable key, e.g. node and run), its last completed durations, so that
    :func:`nodes_times` does not sort them again while they are the same.

    A node's data changes far more often than its completed durations: a new RUNNING packet,
    a LOST verdict or a CACHED packet changes the rows but not the durations. The check is on
    the arrays (the completed rows' indices and their durations), so it is exact whatever the
    rows are. (Merging only the new durations into the old sorted ones was measured: per-node
    numpy calls cost as much as the sort of ~2,000 values they save.)
    """

    def __init__(self) -> None:
        self._data: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def sorted(self, key: Any, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The sorted ``values`` (the durations of the node's completed ``rows``); the result
        is shared with later calls: never change it."""
        hit = self._data.get(key)
        if hit is not None and np.array_equal(hit[0], rows) and np.array_equal(hit[1], values):
            return hit[2]
        out = np.sort(values)
        out.flags.writeable = False  # shared between calls (and slow bounds are kept by it)
        if len(self._data) > 100_000:
            self._data.clear()
        self._data[key] = (rows, values, out)
        return out


def nodes_times(
    tables: Sequence[pa.Table],
    keys: Sequence[Any] | None = None,
    cache: SortedDurations | None = None,
) -> list[NodeTimes]:
    """:func:`node_times` of many nodes at once: each column of all nodes is converted to numpy
    in one Arrow call, then split per node (per-node Arrow calls cost more than the work).

    With ``keys`` (one per table) and a ``cache``, a node's durations are sorted only when
    they changed since the last call with its key (see :class:`SortedDurations`)."""
    sizes = np.array([t.num_rows for t in tables], np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])

    def column(name: str, kind: pa.DataType) -> pa.ChunkedArray:
        cols = (t.column(name) for t in tables)
        chunks = [c for col in cols for c in (col if col.type == kind else col.cast(kind)).chunks]
        return pa.chunked_array(chunks, kind)

    if bounds[-1] == 0:
        code = np.empty(0, np.int64)
        dur = started = ts = np.empty(0, np.float64)
    else:
        code = pc.fill_null(pc.index_in(column("state", pa.string()), value_set=_STATE_SET), -1)
        code = (
            code.to_numpy(zero_copy_only=False)
            if code.num_chunks != 1
            else (code.chunk(0).to_numpy(zero_copy_only=False))
        )
        dur = _floats(column("duration_s", pa.float64()))
        started = _floats(column("started_us", pa.int64()))
        ts = _floats(column("ts_us", pa.int64()))
    with np.errstate(invalid="ignore"):
        completed_all = ((code == _SUCCESS) | (code == _FAILED)) & (dur >= 0) & np.isfinite(dur)
    done_all = ((code == _SUCCESS) | (code == _FAILED) | (code == _CACHED)) & np.isfinite(ts)
    running_all = (code == _RUNNING) & np.isfinite(started)
    # Everything but the per-node sort is done once for all nodes, then sliced per node.
    n = len(tables)
    node_of = np.repeat(np.arange(n, dtype=np.int64), sizes)
    ok = code >= 0
    counts = np.bincount(node_of[ok] * len(STATES) + code[ok], minlength=n * len(STATES)).reshape(
        n, len(STATES)
    )
    counts_list = counts.tolist()
    comp = np.flatnonzero(completed_all)
    comp_dur = dur[comp]
    comp_at = np.searchsorted(comp, bounds)
    done_ts = ts[done_all].astype(np.int64)
    done_at = np.searchsorted(np.flatnonzero(done_all), bounds)
    run_idx = np.flatnonzero(running_all)
    run_started = started[run_idx].astype(np.int64)
    run_at = np.searchsorted(run_idx, bounds)
    out = []
    use_cache = cache is not None and keys is not None
    for i in range(n):
        durations = comp_dur[comp_at[i] : comp_at[i + 1]]
        if use_cache:
            comp_rows = comp[comp_at[i] : comp_at[i + 1]] - bounds[i]
            durations = cache.sorted(keys[i], comp_rows, durations)  # type: ignore[union-attr,index]
        else:
            durations.sort()  # in place: a slice of this call's own copy
        out.append(
            NodeTimes(
                counts=dict(zip(STATES, counts_list[i], strict=True)),
                durations=durations,
                done_ts_us=done_ts[done_at[i] : done_at[i + 1]],
                running_started_us=run_started[run_at[i] : run_at[i + 1]],
                running_rows=run_idx[run_at[i] : run_at[i + 1]] - bounds[i],
            )
        )
    return out


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric column as float64, nulls as NaN."""
    arr = pc.cast(column, pa.float64())
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.to_numpy(zero_copy_only=False)


def quantile(sorted_values: np.ndarray, q: float) -> float:
    """The ``q`` quantile (linear interpolation) of an already sorted, non-empty array."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac)


@dataclass(frozen=True)
class Progress:
    """How far a node (or a run) is, and when it may end."""

    done: int
    expected: int | None
    expected_from: str | None  # "declared" | "previous run" | None
    rate_per_min: float | None
    eta_s: tuple[float, float] | None
    eta_mid_s: float | None = None
    running: int = 0

    @property
    def fraction(self) -> float | None:
        """done / expected in [0, 1], None when unknown (for the tree's progress bar)."""
        if not self.expected:
            return None
        return min(1.0, self.done / self.expected)

    def to_json(self) -> dict[str, Any]:
        """``"progress"`` in ``summary --json``."""
        return {
            "done": self.done,
            "expected": self.expected,
            "expected_from": self.expected_from,
            "rate_per_min": None if self.rate_per_min is None else round(self.rate_per_min, 3),
            "eta_s": None if self.eta_s is None else [round(v, 1) for v in self.eta_s],
        }


def declared_totals(
    records: Iterable[Mapping[str, Any]],
    run_id: str,
    warn: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Per node (identity joined by ``/``) the largest ``total`` the writers of a run declared.

    ``records`` are run-record dicts as read from disk (per-writer or the older single file);
    those of other runs are ignored. A bad ``total`` is named through ``warn`` and skipped.
    """
    out: dict[str, int] = {}
    for rec in records:
        if not isinstance(rec, Mapping) or rec.get("run_id") != run_id:
            continue
        nodes = rec.get("nodes")
        if not isinstance(nodes, Mapping):
            continue
        for name, info in nodes.items():
            if not isinstance(info, Mapping) or info.get("total") is None:
                continue
            total = info["total"]
            if isinstance(total, float) and total.is_integer():
                total = int(total)
            if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < MAX_TOTAL:
                if warn is not None:
                    where = rec.get("_record_path") or f"run {run_id}"
                    warn(f"{where}: node {str(name)[:200]!r}: bad total {str(total)[:50]!r}")
                continue
            out[str(name)] = max(out.get(str(name), 0), total)
    return out


def previous_run(
    runs_newest_first: Sequence[str], live: Mapping[str, bool], current: str | None
) -> str | None:
    """The newest run older than ``current`` whose verdict is not live (``None``: none)."""
    if current is None or current not in runs_newest_first:
        return None
    for run_id in runs_newest_first[runs_newest_first.index(current) + 1 :]:
        if not live.get(run_id, True):
            return run_id
    return None


def expected_total(
    declared: int | None, previous_count: int | None, seen: int
) -> tuple[int | None, str | None]:
    """(expected, where it came from): declared, else the previous run's count, else unknown.

    A previous run's count smaller than the packets this run already has is no estimate.
    """
    if declared is not None:
        return declared, DECLARED
    if previous_count and previous_count >= seen:
        return previous_count, PREVIOUS_RUN
    return None, None


def node_progress(
    times: NodeTimes,
    now: float,
    *,
    declared: int | None = None,
    previous_count: int | None = None,
    history_durations: np.ndarray | None = None,
    live: bool = True,
) -> Progress:
    """A node's progress in one run at ``now`` (epoch seconds).

    ``history_durations``: sorted completed durations of earlier runs, used for the typical
    duration when this run has fewer than :data:`MIN_DURATIONS` of its own. A run that is not
    live gets no ETA (it will not finish by itself).
    """
    expected, source = expected_total(declared, previous_count, times.seen)
    done = times.done
    lo_us = (now - RATE_WINDOW_S) * 1e6
    recent = int(np.count_nonzero(times.done_ts_us > lo_us))
    rate = recent * 60.0 / RATE_WINDOW_S
    running = times.counts["RUNNING"]
    eta = mid = None
    if expected is not None and live:
        remaining = expected - done
        if remaining <= 0:
            if running == 0:
                eta, mid = (0.0, 0.0), 0.0
        else:
            durations = times.durations
            if len(durations) < MIN_DURATIONS and history_durations is not None:
                durations = history_durations
            if len(durations) >= MIN_DURATIONS:
                per = remaining / max(running, 1)
                eta = (per * quantile(durations, 0.25), per * quantile(durations, 0.75))
                mid = per * quantile(durations, 0.5)
    return Progress(done, expected, source, rate, eta, mid, running)


def run_progress(nodes: Sequence[Progress]) -> Progress:
    """A run's progress from its nodes' progress.

    ``expected`` is the sum when every node's is known. Nodes that have started are taken to run
    side by side and nodes that have not to follow them, so the ETA range is [the largest low,
    the largest high of the started nodes + the highs of the rest]. Unknown when any node's ETA
    is unknown.
    """
    done = sum(p.done for p in nodes)
    running = sum(p.running for p in nodes)
    known = [p for p in nodes if p.expected is not None]
    expected = sum(p.expected or 0 for p in known) if known and len(known) == len(nodes) else None
    sources = {p.expected_from for p in known}
    source = None
    if expected is not None:
        source = DECLARED if sources == {DECLARED} else PREVIOUS_RUN
    rates = [p.rate_per_min for p in nodes if p.rate_per_min is not None]
    rate = sum(rates) if rates else None
    eta = mid = None
    if expected is not None and all(p.eta_s is not None for p in nodes):
        etas = [p.eta_s for p in nodes if p.eta_s is not None]
        started = [p.eta_s[1] for p in nodes if p.eta_s is not None and (p.done or p.running)]
        later = [p.eta_s[1] for p in nodes if p.eta_s is not None and not (p.done or p.running)]
        low = max((e[0] for e in etas), default=0.0)
        eta = (low, max(max(started, default=0.0) + sum(later), low))
        mids = [p.eta_mid_s or 0.0 for p in nodes]
        mid = min(max(max(mids, default=0.0), eta[0]), eta[1])
    return Progress(done, expected, source, rate, eta, mid, running)


def _unit(seconds: float) -> tuple[float, str]:
    if seconds < 90:
        return 1.0, "s"
    if seconds < 90 * 60:
        return 60.0, "m"
    if seconds < 48 * 3600:
        return 3600.0, "h"
    return 86400.0, "d"


def format_eta(progress: Progress | None) -> str:
    """``~6m (4–9m)``, ``~6m`` when the range rounds to one value, ``?`` when unknown."""
    if progress is None or progress.eta_s is None:
        return "?"
    low, high = progress.eta_s
    mid = progress.eta_mid_s if progress.eta_mid_s is not None else (low + high) / 2
    scale, unit = _unit(mid)
    lo, md, hi = (max(0, round(v / scale)) for v in (low, mid, high))
    if lo == hi:
        return f"~{md}{unit}"
    return f"~{md}{unit} ({lo}–{hi}{unit})"


def format_progress(progress: Progress) -> str:
    """``7/200`` or ``7/?`` (done of expected)."""
    return f"{progress.done}/{progress.expected if progress.expected is not None else '?'}"
