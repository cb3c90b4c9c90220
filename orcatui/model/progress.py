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
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.packets import from_numpy
from orcatui.model.runs import Verdict
from orcatui.model.states import State
from orcatui.model.views import (
    MAX_DURATION_S,
    ROW_COLUMNS,
    derivable,
    derive,
    display_rows_many,
)

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


_NO_BUFFER = np.empty(0, np.float64)


class SortedDurations:
    """Per node (any hashable key, e.g. node and run), its last completed durations sorted, so
    that :func:`nodes_times` does not sort them again from scratch when data changes.

    A node's data changes far more often than its completed durations, and when they change
    it is mostly by a few: a new RUNNING packet, a LOST verdict or a CACHED packet changes the
    rows but not the durations; a completion adds one. So each node's duration per row (NaN:
    none) is kept and compared with the new one for all nodes at once, bit by bit; a node keeps
    its sorted array when no row differs, else the durations gone or changed are taken out of
    it and the new ones merged in (one stable sort of long sorted runs). A node with mostly new
    durations is sorted afresh. The result is exactly ``np.sort`` of the node's durations,
    whatever the rows do.

    Big temporaries are avoided on purpose: a fresh multi-megabyte numpy array is page-faulted
    in on every call (several milliseconds for all nodes); the comparison uses a buffer kept
    here.
    """

    def __init__(self) -> None:
        # key → (duration per row, NaN where none; the sorted durations)
        self._data: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        # Scratch buffers per thread, so that one cache may be used from several threads.
        self._scratch = threading.local()

    def _kept(self, name: str, size: int) -> np.ndarray:
        """This thread's scratch buffer ``name``, of ``size`` elements (kept between calls)."""
        buffer, out = kept_buffer(getattr(self._scratch, name, _NO_BUFFER), size)
        setattr(self._scratch, name, buffer)
        return out

    def per_row(self, durations: np.ndarray, completed: np.ndarray) -> np.ndarray:
        """``durations`` where ``completed``, else NaN (in a buffer kept here: valid until the
        next call)."""
        out = self._kept("per_row", len(durations))
        out.fill(np.nan)
        np.copyto(out, durations, where=completed)
        return out

    def sorted(self, key: Any, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The sorted ``values`` (the durations of the node's completed ``rows``); the result
        is shared with later calls: never change it."""
        rows = np.asarray(rows, np.int64)
        values = np.asarray(values, np.float64)
        size = int(rows.max()) + 1 if len(rows) else 0
        per_row = np.full(size, np.nan)
        if len(rows) and (rows.min() < 0 or np.isnan(values).any()):
            self._data.pop(key, None)  # rows must name each duration once
            return _frozen(np.sort(values))
        per_row[rows] = values
        completed = ~np.isnan(per_row)
        if int(completed.sum()) != len(values):  # a row named twice
            self._data.pop(key, None)
            return _frozen(np.sort(values))
        bounds = np.array([0, size], np.int64)
        return self.sorted_nodes([key], per_row, completed, per_row[completed], bounds)[0]

    def sorted_nodes(
        self,
        keys: Sequence[Any],
        per_row: np.ndarray,
        completed: np.ndarray,
        values: np.ndarray,
        bounds: np.ndarray,
    ) -> list[np.ndarray]:
        """The sorted durations of many nodes at once: node ``i`` owns the rows
        ``bounds[i]:bounds[i + 1]``; ``per_row`` is the duration of each row (NaN: none, and
        only there), ``completed`` whether it has one, ``values`` the durations of the rows
        that have one, in row order. The results are shared with later calls: never change
        them."""
        n = len(keys)
        bounds_l = bounds.tolist()
        at_l = _segment_ends(completed, bounds_l).tolist()  # node i: values[at[i]:at[i + 1]]
        out: list[np.ndarray | None] = [None] * n
        hits = [self._data.get(k) for k in keys]
        if any(h is not None for h in hits):
            self._merge(keys, per_row, bounds_l, at_l, hits, out)
        for i in range(n):
            if out[i] is None:
                fresh = np.sort(values[at_l[i] : at_l[i + 1]])
                out[i] = self._keep(keys[i], per_row[bounds_l[i] : bounds_l[i + 1]], fresh)
        return out  # type: ignore[return-value]

    def _merge(
        self,
        keys: Sequence[Any],
        per_row: np.ndarray,
        bounds: list[int],
        at: list[int],
        hits: list,
        out: list[np.ndarray | None],
    ) -> None:
        """``out[i]`` of the nodes with kept durations: the kept sorted array, less the kept
        durations of the rows that differ now, plus the new ones (left None when that is most
        of them: a fresh sort is then as cheap)."""
        n = len(keys)
        total = bounds[-1]
        old = self._kept("buffer", total)
        # old: the kept durations at this call's rows (NaN: none)
        sizes = [bounds[i + 1] - bounds[i] for i in range(n)]
        if all(h is not None and len(h[0]) == s for h, s in zip(hits, sizes, strict=True)):
            np.concatenate([h[0] for h in hits], out=old)
        else:
            old[:] = per_row  # a node without kept durations: no row differs
            for i, h in enumerate(hits):
                if h is not None:
                    common = min(len(h[0]), sizes[i])
                    old[bounds[i] : bounds[i] + common] = h[0][:common]
                    old[bounds[i] + common : bounds[i + 1]] = np.nan
        # Rows whose duration differs (bit by bit: NaN is the same NaN on both sides).
        differ = np.flatnonzero(old.view(np.int64) != per_row.view(np.int64))
        node = np.searchsorted(bounds, differ, side="right") - 1
        before, after = old[differ], per_row[differ]
        gone, gone_node = before[~np.isnan(before)], node[~np.isnan(before)]
        came, came_node = after[~np.isnan(after)], node[~np.isnan(after)]
        cut = [
            i for i, h in enumerate(hits) if h is not None and len(h[0]) > sizes[i]
        ]  # rows gone from the end of a node
        if cut:
            tails = [hits[i][0][sizes[i] :] for i in cut]
            tails = [t[~np.isnan(t)] for t in tails]
            gone = np.concatenate([gone, *tails])
            gone_node = np.concatenate(
                [gone_node, *[np.full(len(t), i) for i, t in zip(cut, tails, strict=True)]]
            )
        # The durations gone, sorted per node, with how many equal ones precede each in its
        # node (equal values taken out take successive places).
        order = np.lexsort((gone, gone_node))
        gone, gone_node = gone[order], gone_node[order]
        tie = np.arange(len(gone))
        if len(gone) > 1:
            run = np.ones(len(gone), bool)
            run[1:] = (gone[1:] != gone[:-1]) | (gone_node[1:] != gone_node[:-1])
            tie -= np.maximum.accumulate(np.where(run, tie, 0))
        else:
            tie[:] = 0
        gone_at = np.searchsorted(gone_node, np.arange(n + 1)).tolist()
        came_at = np.searchsorted(came_node, np.arange(n + 1)).tolist()
        for i, h in enumerate(hits):
            if h is None:
                continue
            removed = gone_at[i + 1] - gone_at[i]
            added = came_at[i + 1] - came_at[i]
            count = at[i + 1] - at[i]
            if removed == 0 and added == 0:
                out[i] = h[1]  # the same durations
                if len(h[0]) != sizes[i]:
                    self._keep(keys[i], per_row[bounds[i] : bounds[i + 1]], h[1])
                continue
            if 4 * (removed + added) > count:
                continue  # mostly new: sorted afresh
            # The kept sorted durations with the ones gone made +inf (durations are finite),
            # the new ones after them: a stable sort (timsort, a few merges of long sorted
            # runs) puts the new ones in place and the infinities last, cut off.
            merged = np.concatenate([h[1], came[came_at[i] : came_at[i + 1]]])
            if removed:
                where = h[1].searchsorted(gone[gone_at[i] : gone_at[i + 1]])
                where += tie[gone_at[i] : gone_at[i + 1]]
                merged[where] = np.inf
            merged.sort(kind="stable")
            if removed:
                merged.resize(count, refcheck=False)  # in place: the array is its own
            out[i] = self._keep(keys[i], per_row[bounds[i] : bounds[i + 1]], merged)

    def _keep(self, key: Any, per_row: np.ndarray, ordered: np.ndarray) -> np.ndarray:
        ordered = _frozen(ordered)
        if len(self._data) > 100_000:
            self._data.clear()
        self._data[key] = (per_row.copy(), ordered)
        return ordered


def _segment_ends(mask: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Where each segment's True values end among all True values of ``mask`` (the
    segments are ``mask[bounds[i]:bounds[i + 1]]``; the result starts with 0)."""
    ends = np.zeros(len(bounds), np.int64)
    for i in range(len(bounds) - 1):
        ends[i + 1] = np.count_nonzero(mask[bounds[i] : bounds[i + 1]])
    return np.cumsum(ends, out=ends)


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only (shared between calls, and slow bounds are kept by it)."""
    array.flags.writeable = False
    return array


#: The columns :func:`nodes_times` reads, with their types.
_TIME_COLUMNS = pa.schema(
    [
        ("state", pa.string()),
        ("started_us", pa.int64()),
        ("ts_us", pa.int64()),
        ("duration_s", pa.float64()),
    ]
)


#: Where display rows have them (:data:`orcatui.model.views.ROW_COLUMNS`).
_TIME_AT = [ROW_COLUMNS.index(name) for name in _TIME_COLUMNS.names]


def _time_columns(tables: Sequence[pa.Table]) -> pa.Table:
    """The four columns of every table, one after the other (a zero-copy concatenation)."""
    try:  # display rows: the columns where they always are (faster than by name)
        joined = pa.concat_tables([t.select(_TIME_AT) for t in tables])
        if joined.schema.equals(_TIME_COLUMNS):
            return joined
    except (IndexError, pa.ArrowInvalid):
        pass
    try:
        parts = [t.select(_TIME_COLUMNS.names) for t in tables]
        if all(p.schema.equals(_TIME_COLUMNS) for p in parts):
            return pa.concat_tables(parts)
    except (KeyError, pa.ArrowInvalid):
        pass
    # other types (or a column missing: the error names it): cast each table's columns
    return pa.concat_tables(
        [
            pa.table([t.column(f.name).cast(f.type) for f in _TIME_COLUMNS], schema=_TIME_COLUMNS)
            for t in tables
        ]
    )


def nodes_times(
    tables: Sequence[pa.Table],
    keys: Sequence[Any] | None = None,
    cache: SortedDurations | None = None,
) -> list[NodeTimes]:
    """:func:`node_times` of many nodes at once: each column of all nodes is converted to numpy
    in one Arrow call, and every step but the per-node slicing is done once for all nodes
    (per-node Arrow and numpy calls cost more than the work).

    With ``keys`` (one per table) and a ``cache``, a node's durations are sorted only when
    they changed since the last call with its key, and then mostly merged (see
    :class:`SortedDurations`)."""
    sizes = np.fromiter((t.num_rows for t in tables), np.int64, len(tables))
    return _times(sizes, *_read_columns(tables), keys, cache)


#: :data:`STATES` index of each :class:`orcatui.model.states.State` code.
_OF_STATE = np.array([STATES.index(s.name) for s in sorted(State, key=int)], np.int32)


def packets_times(
    tables: Sequence[pa.Table],
    verdicts: Mapping[str, Verdict],
    now: float,
    keys: Sequence[Any] | None = None,
    cache: SortedDurations | None = None,
    run_id: str | None = None,
) -> list[NodeTimes]:
    """:func:`nodes_times` of the display rows of packet rows (``views.display_rows(t,
    verdicts, now)`` of each table), without making them: states and durations are derived
    in numpy (:func:`views.derive`; ``run_id``: every row is of that run), no state name or
    display table per row. Tables that cannot be derived together are made display rows
    first."""
    sizes = np.fromiter((t.num_rows for t in tables), np.int64, len(tables))
    batch = derivable(tables)
    plain = all(
        tables[i].schema.field(c).type == pa.int64()
        for i in batch[:1]
        for c in ("ts", "running_ts")
    )
    if not plain or len(batch) != sum(1 for t in tables if t.num_rows):
        return nodes_times(display_rows_many(tables, verdicts, now), keys, cache)
    if not batch:
        return _times(sizes, *_read_columns([]), keys, cache)
    chosen = [tables[i] for i in batch]
    d = derive(chosen, verdicts, now, run_id)
    if len(d.code) and (d.code.min() < 0 or d.code.max() >= len(_OF_STATE)):
        return nodes_times(display_rows_many(tables, verdicts, now), keys, cache)
    code = _OF_STATE[d.code]
    too_long = d.duration > MAX_DURATION_S
    dur = np.where(too_long, np.nan, d.duration) if too_long.any() else d.duration  # unknown: NaN
    started = pa.chunked_array(
        [c for t in chosen for c in t.column("running_ts").chunks], pa.int64()
    )
    ended = pa.chunked_array([c for t in chosen for c in t.column("ts").chunks], pa.int64())
    return _times(sizes, code, dur, started, _ints(ended.combine_chunks()), keys, cache)


def _times(
    sizes: np.ndarray,
    code: np.ndarray,
    dur: np.ndarray,
    started: pa.ChunkedArray,
    ended: tuple[np.ndarray, np.ndarray],
    keys: Sequence[Any] | None,
    cache: SortedDurations | None,
) -> list[NodeTimes]:
    """:func:`nodes_times` from the columns of all rows (see :func:`_read_columns`)."""
    n = len(sizes)
    bounds = np.zeros(n + 1, np.int64)
    np.cumsum(sizes, out=bounds[1:])
    ts, ts_ok = ended
    unsigned = code.view(np.uint32)  # an unknown state (-1) is the largest
    with np.errstate(invalid="ignore"):
        completed_all = (unsigned <= _FAILED) & (dur >= 0) & (dur < np.inf)
    done_all = (unsigned <= _CACHED) & ts_ok
    # RUNNING rows with a known start (few: their start times are taken from Arrow)
    run_idx = np.flatnonzero(code == _RUNNING)
    run_started = np.empty(0, np.int64)
    if len(run_idx):
        taken = started.take(from_numpy(run_idx))
        known = taken.is_valid().to_numpy(zero_copy_only=False)
        run_started = taken.fill_null(0).to_numpy()[known]
        run_idx = run_idx[known]
    run_at = np.searchsorted(run_idx, bounds)
    run_rel = run_idx - np.repeat(bounds[:-1], np.diff(run_at))
    # per node: the count of each state — one bincount of (node, state + 1) over the rows
    # not SUCCESS (few), the unknown state in column 0; SUCCESS rows are the rest
    width = len(STATES) + 1
    others = np.flatnonzero(code != _SUCCESS)
    node_of = np.searchsorted(bounds, others, side="right") - 1
    sums = np.bincount(node_of * width + code[others] + 1, minlength=n * width).reshape(n, width)
    sums[:, 1 + _SUCCESS] = sizes - sums.sum(axis=1)
    counts = sums[:, 1:].tolist()
    bounds_l = bounds.tolist()
    # without null end times, done rows are those of the done states
    if ts_ok.all():
        done_at = np.zeros(n + 1, np.int64)
        np.cumsum(
            sums[:, 1 + _SUCCESS] + sums[:, 1 + _FAILED] + sums[:, 1 + _CACHED], out=done_at[1:]
        )
    else:
        done_at = _segment_ends(done_all, bounds_l)
    comp_dur = dur[completed_all]
    done_ts = ts[done_all]
    if cache is not None and keys is not None:
        per_row = cache.per_row(dur, completed_all)
        durations = cache.sorted_nodes(keys, per_row, completed_all, comp_dur, bounds)
    else:
        comp_at = _segment_ends(completed_all, bounds_l)
        durations = [np.sort(comp_dur[comp_at[i] : comp_at[i + 1]]) for i in range(n)]
    done_at_l, run_at_l = done_at.tolist(), run_at.tolist()
    return [
        NodeTimes(
            counts=dict(zip(STATES, counts[i], strict=True)),
            durations=durations[i],
            done_ts_us=done_ts[done_at_l[i] : done_at_l[i + 1]],
            running_started_us=run_started[run_at_l[i] : run_at_l[i + 1]],
            running_rows=run_rel[run_at_l[i] : run_at_l[i + 1]],
        )
        for i in range(n)
    ]


#: Buffers of up to this many elements are kept between calls (32 MB of float64); larger
#: ones are made for the call only (the memory a few huge nodes need is not kept).
KEEP_ELEMENTS = 1 << 22


def kept_buffer(buffer: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(the buffer to keep, ``size`` elements of it, contents undefined): ``buffer`` when it
    is large enough, else a larger one; above :data:`KEEP_ELEMENTS` an array for this call
    only (``buffer`` is kept as it is)."""
    if size <= len(buffer):
        return buffer, buffer[:size]
    if size > KEEP_ELEMENTS:
        return buffer, np.empty(size, buffer.dtype)
    grown = np.empty(min(2 * size, KEEP_ELEMENTS), buffer.dtype)
    return grown, grown[:size]


def _read_columns(
    tables: Sequence[pa.Table],
) -> tuple[np.ndarray, np.ndarray, pa.ChunkedArray, tuple[np.ndarray, np.ndarray]]:
    """State codes (-1: unknown), durations (NaN: none), start times (Arrow) and end times
    (with whether each is known) of all the tables' rows, one after the other."""
    if sum(t.num_rows for t in tables) == 0:
        none = pa.chunked_array([], pa.int64())
        return np.empty(0, np.int32), np.empty(0, np.float64), none, _ints(none.combine_chunks())
    cols = _time_columns(tables)
    # the state codes of the chunks (a copy of the strings in one would cost more)
    code = pc.fill_null(pc.index_in(cols.column(0), value_set=_STATE_SET), -1)
    code = code.combine_chunks().to_numpy(zero_copy_only=False)
    started = cols.column(1)  # only the RUNNING rows' are read
    ended = _ints(cols.column(2).combine_chunks())
    dur = cols.column(3).combine_chunks().to_numpy(zero_copy_only=False)  # null: NaN
    return code, dur, started, ended


def _ints(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """An int64 column as numpy values (nulls as 0) and whether each is valid."""
    if column.null_count == 0:
        return column.to_numpy(), np.ones(len(column), bool)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return column.fill_null(0).to_numpy(), valid


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
