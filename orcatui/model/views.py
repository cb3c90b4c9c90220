"""Views of a node's packets: one run, the newest run, or the latest per packet across runs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.keys import packet_keys
from orcatui.model.packets import from_numpy, latest_rows
from orcatui.model.runs import Verdict, lost_reasons
from orcatui.model.states import State, state_names
from orcatui.store.schema import TAG_PREFIX


@dataclass(frozen=True)
class View:
    """Which events a pipeline is shown by: a run (``None`` = newest run) or all runs."""

    run_id: str | None = None
    all_runs: bool = False

    @property
    def label(self) -> str:
        """A short description for headers."""
        if self.all_runs:
            return "latest per packet, all runs"
        return f"run {self.run_id}" if self.run_id else "newest run"


#: Columns of a view's packet rows, before the tag columns (named by plain tag name).
ROW_COLUMNS = (
    "key",
    "run_id",
    "state",
    "started_us",
    "ts_us",
    "duration_s",
    "error",
    "lost_reason",
)


def display_tag_name(tag: str) -> str:
    """The display-row column of a user tag; a tag named like a row column gets a suffix."""
    return f"{tag} (tag)" if tag in ROW_COLUMNS else tag


def packets_for_view(packets: pa.Table, run_id: str | None, all_runs: bool) -> pa.Table:
    """The packet rows a view shows: one run's, or the latest of each tag set across runs."""
    if all_runs:
        tag_only = packets.set_column(0, "key", packet_keys(packets, with_run=False))
        latest = latest_rows(tag_only)
        return latest.set_column(0, "key", packet_keys(latest))
    if run_id is None:
        return packets.slice(0, 0)
    mask = pc.equal(packets.column("run_id"), run_id)
    if pc.all(mask).as_py() and not mask.null_count:
        return packets  # a node with one run (the usual case): no copy of every column
    at = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
    if len(at) and at[-1] - at[0] + 1 == len(at):
        return packets.slice(int(at[0]), len(at))  # the run's rows in one block: no copy
    return packets.filter(mask)


#: A duration beyond this (ten years) is not believed: it is shown as unknown.
MAX_DURATION_S = 10 * 365.25 * 86400


def _seconds(us: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """µs → seconds as float64, for any int64 (no "not in range" cast errors)."""
    return pc.divide(pc.cast(us, pa.float64(), safe=False), 1e6)


#: The clock a packet's age is taken at: one time for all rows, or one per row (see
#: :func:`lost_clock`).
Clock = float | np.ndarray


def lost_stops(
    verdicts: Mapping[str, Verdict], dead: Mapping[str, str], lost_why: np.ndarray
) -> np.ndarray:
    """Per LOST row (its run's index ``lost_why`` in ``dead``, :func:`runs.lost_reasons`), the
    moment its run stopped (``Verdict.stopped_at``; NaN where not known): a LOST packet's
    duration runs until then, how long it ran until its run's last sign of life, not an age
    that keeps growing."""
    known = [verdicts[r].stopped_at for r in dead]
    table = np.array([np.nan if s is None else float(s) for s in known], np.float64)
    return table[lost_why]


def lost_clock(n: int, now: float, lost_at: np.ndarray, stops: np.ndarray) -> Clock:
    """The clock of each of ``n`` rows: ``now``, but for the LOST rows ``lost_at`` their runs'
    ``stops`` (:func:`lost_stops`) where known; ``now`` itself when none is."""
    if not len(lost_at) or np.isnan(stops).all():
        return float(now)
    clock = np.full(n, float(now))
    clock[lost_at] = np.where(np.isnan(stops), float(now), stops)
    return clock


def _durations_arrow(packets: pa.Table, now: Clock) -> pa.Array:
    """Durations in seconds (see :func:`display_rows`), with Arrow kernels: the reference."""
    ts = packets.column("ts")
    running = packets.column("running_ts")
    terminal = pc.not_equal(packets.column("state"), int(State.RUNNING))
    finished = pc.subtract(_seconds(ts), _seconds(running))
    clock = pa.array(now, pa.float64()) if isinstance(now, np.ndarray) else pa.scalar(float(now))
    age = pc.subtract(clock, _seconds(running))
    if not packets.num_rows:
        return pa.array([], pa.float64())
    duration = pc.if_else(terminal, finished, age)
    duration = pc.max_element_wise(duration, pa.scalar(0.0))  # null (no start) → 0.0 too
    too_long = pc.fill_null(pc.greater(duration, MAX_DURATION_S), False)
    return pc.if_else(too_long, pa.scalar(None, pa.float64()), duration)


def _durations(packets: pa.Table, now: Clock) -> pa.Array:
    """:func:`_durations_arrow` in numpy: the same IEEE operations, in a few passes instead of
    ten Arrow calls (the summary computes this for every packet of every node)."""
    ts = packets.column("ts")
    if not packets.num_rows or ts.null_count:
        return _durations_arrow(packets, now)
    running = packets.column("running_ts")
    started = pc.is_valid(running).to_numpy(zero_copy_only=False)
    start_s = pc.fill_null(running, 0).to_numpy().astype(np.float64) / 1e6
    terminal = packets.column("state").to_numpy() != int(State.RUNNING)
    end_s = ts.to_numpy().astype(np.float64) / 1e6
    clock = now if isinstance(now, np.ndarray) else float(now)
    duration = np.where(terminal, end_s - start_s, clock - start_s)
    duration = np.where(started, np.fmax(duration, 0.0), 0.0)  # fmax: NaN → 0.0, as Arrow's max
    return from_numpy(duration, pa.float64(), null=duration > MAX_DURATION_S)


def display_rows(packets: pa.Table, verdicts: Mapping[str, Verdict], now: float) -> pa.Table:
    """Packet rows as shown: state names with LOST derived, times, duration, first-line errors.

    A RUNNING packet whose run is not live is LOST, with the run's reason
    (:func:`runs.lost_reasons`); its duration runs until its run stopped (:func:`lost_clock`).
    Durations are never negative (clocks of two writers may disagree a little); one longer than
    :data:`MAX_DURATION_S` is unknown (null).
    """
    n = packets.num_rows
    names = state_names()
    codes = packets.column("state")
    lost_codes = None  # the LOST mask, when it is applied to the names (null state codes)
    lost_reason = pa.nulls(n, pa.string())
    dead = lost_reasons(verdicts)
    clock: Clock = float(now)
    if dead and n:
        # Only RUNNING packets can be LOST: their runs alone are looked up (few rows).
        running = pc.fill_null(pc.equal(codes, int(State.RUNNING)), False)
        at = np.flatnonzero(running.to_numpy(zero_copy_only=False))
        which = np.full(n, -1, np.int64)
        if len(at):
            dead_runs = pa.array(list(dead), pa.string())
            found = pc.index_in(packets.column("run_id").take(from_numpy(at)), value_set=dead_runs)
            which[at] = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
        is_lost = which >= 0
        if is_lost.any():
            lost_at = np.flatnonzero(is_lost)
            stops = lost_stops(verdicts, dead, which[lost_at])
            clock = lost_clock(n, now, lost_at, stops)
            reasons = pa.array(list(dead.values()), pa.string())
            lost_reason = pc.take(reasons, from_numpy(np.maximum(which, 0), null=~is_lost))
            if codes.null_count:
                lost_codes = pa.Array.from_buffers(
                    pa.bool_(), n, [None, pa.py_buffer(np.packbits(is_lost, bitorder="little"))]
                )
            else:  # LOST as a code of its own: the names are then taken once
                codes = from_numpy(np.where(is_lost, int(State.LOST), codes.to_numpy()))
    state = pc.take(names, pc.cast(codes, pa.int32())) if n else pa.array([], pa.string())
    if lost_codes is not None:
        state = pc.if_else(lost_codes, pa.scalar("LOST"), state)
    ts = packets.column("ts")
    running = packets.column("running_ts")
    duration = _durations(packets, clock)
    error = packets.column("error")
    tag_cols = [c for c in packets.column_names if c.startswith(TAG_PREFIX)]
    return pa.table(
        [
            packets.column("key"),
            packets.column("run_id"),
            state,
            running,
            ts,
            duration,
            error,
            lost_reason,
            *[packets.column(c) for c in tag_cols],
        ],
        names=[*ROW_COLUMNS, *[display_tag_name(c[len(TAG_PREFIX) :]) for c in tag_cols]],
    )


def _plain_types(t: pa.Table) -> tuple[pa.DataType, ...]:
    schema = t.schema
    return (
        schema.field("run_id").type,
        schema.field("ts").type,
        schema.field("running_ts").type,
        schema.field("state").type,
    )


def derivable(tables: Sequence[pa.Table]) -> list[int]:
    """Which of ``tables`` (packet rows) :func:`derive` takes together: those with rows, no
    null state or end time, integer state codes and the column types of the first one."""
    out: list[int] = []
    types = None
    first = None  # the first one's schema: a table of the same has the same types
    for i, t in enumerate(tables):
        if not t.num_rows:
            continue
        schema = t.schema
        if first is None:
            first, types = schema, _plain_types(t)
            if not pa.types.is_integer(types[3]):
                return []
        elif schema != first and _plain_types(t) != types:
            continue
        if not t.column("ts").null_count and not t.column("state").null_count:
            out.append(i)
    return out


@dataclass(frozen=True)
class Derived:
    """What display rows derive from packet rows (see :func:`display_rows`), for the rows of
    several tables one after the other."""

    code: np.ndarray  # :class:`State` code per row (int8), LOST derived
    duration: np.ndarray  # float64 seconds, never negative (> MAX_DURATION_S: unknown)
    lost_at: np.ndarray  # the LOST rows
    lost_why: np.ndarray  # for each, its reason's index in ``reasons``
    reasons: list[str]  # the dead runs' reasons

    def lost_reason(self) -> pa.Array | None:
        """The reason on each LOST row, null elsewhere (None when no row is LOST)."""
        if not len(self.lost_at):
            return None
        which = np.zeros(len(self.code), np.int64)
        which[self.lost_at] = self.lost_why
        lost = np.zeros(len(self.code), bool)
        lost[self.lost_at] = True
        return pc.take(pa.array(self.reasons, pa.string()), from_numpy(which, null=~lost))


def derive(
    tables: Sequence[pa.Table],
    verdicts: Mapping[str, Verdict],
    now: float,
    run_id: str | None = None,
) -> Derived:
    """States (LOST derived) and durations of packet rows, each step done once over the rows of
    all ``tables`` (all :func:`derivable` together): the same rules and IEEE operations as
    :func:`display_rows` (per-table Arrow calls cost more than their work when a root has
    hundreds of nodes). Only RUNNING rows' runs are looked up — none when ``run_id`` says that
    every row is of that run (a one-run view) — and durations are computed in blocks of rows:
    temporaries of every row (tens of MB for 1 M packets) cost more in page faults than the
    arithmetic."""
    states = [c for t in tables for c in t.column("state").chunks]
    code = np.concatenate([c.to_numpy() for c in states]) if states else np.zeros(0, np.int8)
    running = code == int(State.RUNNING)
    at = np.flatnonzero(running)
    lost_at, lost_why, reasons = at[:0], np.zeros(0, np.int64), []
    dead = lost_reasons(verdicts)
    if run_id is not None:  # the rows' one run: all its RUNNING rows are LOST, or none
        if run_id in dead and len(at):
            reasons = list(dead.values())
            lost_at, lost_why = at, np.full(len(at), list(dead).index(run_id), np.int64)
            code = code.copy()
            code[lost_at] = int(State.LOST)
    elif dead and len(at):
        # The RUNNING rows' run ids, taken table by table (a take over the chunks of every
        # table would first join them all: a copy of every row's run id).
        ends = np.cumsum([t.num_rows for t in tables])
        bounds = np.searchsorted(at, np.concatenate(([0], ends)))
        runs = pa.chunked_array(
            [
                t.column("run_id").take(from_numpy(at[b0:b1] - (end - t.num_rows)))
                for t, end, b0, b1 in zip(tables, ends, bounds[:-1], bounds[1:], strict=True)
                if b1 > b0
            ],
            tables[0].schema.field("run_id").type,
        )
        found = pc.index_in(runs, value_set=pa.array(list(dead), pa.string()))
        which = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
        lost_at, lost_why, reasons = at[which >= 0], which[which >= 0], list(dead.values())
        if len(lost_at):
            code = code.copy()
            code[lost_at] = int(State.LOST)
    pairs: list[tuple[pa.Array, pa.Array]] = []
    for t in tables:
        starts, ends = t.column("running_ts"), t.column("ts")
        if [len(c) for c in starts.chunks] != [len(c) for c in ends.chunks]:
            starts, ends = (pa.chunked_array([c.combine_chunks()]) for c in (starts, ends))
        pairs.extend(zip(starts.chunks, ends.chunks, strict=True))
    duration = np.empty(len(code), np.float64)
    lo = 0
    for block in _blocks(pairs):
        hi = lo + sum(len(s) for s, _ in block)
        _block_durations(block, running[lo:hi], float(now), duration[lo:hi])
        lo = hi
    if len(lost_at):
        _lost_durations(duration, pairs, lost_at, lost_stops(verdicts, dead, lost_why))
    return Derived(code, duration, lost_at, lost_why, reasons)


def _lost_durations(
    duration: np.ndarray,
    pairs: list[tuple[pa.Array, pa.Array]],
    lost_at: np.ndarray,
    stop: np.ndarray,
) -> None:
    """The LOST rows' durations in ``duration`` made to end at their runs' stops (see
    :func:`lost_stops`; the same operations as :func:`_durations` with :func:`lost_clock`),
    reading only those rows' start times: a clock per row of every node would be a
    multi-megabyte temporary."""
    has = ~np.isnan(stop)
    if not has.any():
        return
    rows = lost_at[has]
    starts = pa.chunked_array([s for s, _ in pairs], pa.int64()).take(from_numpy(rows))
    started = starts.is_valid().to_numpy(zero_copy_only=False)
    start_s = starts.fill_null(0).to_numpy().astype(np.float64) / 1e6
    duration[rows] = np.where(started, np.fmax(stop[has] - start_s, 0.0), 0.0)


#: Rows whose durations are computed together: large enough that numpy's per-call cost does
#: not count (hundreds of nodes' small chunks), small enough that the temporaries stay in the
#: CPU cache and are not page-faulted in afresh (as whole-column ones of 1 M rows were).
DURATION_BLOCK = 1 << 16


def _blocks(pairs: list[tuple[pa.Array, pa.Array]]) -> list[list[tuple[pa.Array, pa.Array]]]:
    """Consecutive chunk pairs grouped into blocks of about :data:`DURATION_BLOCK` rows."""
    out: list[list[tuple[pa.Array, pa.Array]]] = [[]]
    size = 0
    for pair in pairs:
        if size >= DURATION_BLOCK:
            out.append([])
            size = 0
        out[-1].append(pair)
        size += len(pair[0])
    return out


def _block_durations(
    block: list[tuple[pa.Array, pa.Array]], running: np.ndarray, now: float, out: np.ndarray
) -> None:
    """:func:`_durations` of some chunks of rows (start, end; no null end time), into ``out``."""
    if not block:
        return
    start_us = np.concatenate(
        [(pc.fill_null(s, 0) if s.null_count else s).to_numpy() for s, _ in block]
    )
    start_s = start_us.astype(np.float64) / 1e6
    end_s = np.concatenate([e.to_numpy() for _, e in block]).astype(np.float64) / 1e6
    duration = np.where(~running, end_s - start_s, now - start_s)
    if not any(s.null_count for s, _ in block):  # every start known
        out[:] = np.fmax(duration, 0.0)
        return
    started = np.concatenate([s.is_valid().to_numpy(zero_copy_only=False) for s, _ in block])
    out[:] = np.where(started, np.fmax(duration, 0.0), 0.0)


def display_rows_many(
    tables: Sequence[pa.Table],
    verdicts: Mapping[str, Verdict],
    now: float,
    run_id: str | None = None,
) -> list[pa.Table]:
    """``[display_rows(t, verdicts, now) for t in tables]``: the same tables, the states and
    durations of all :func:`derivable` tables derived together (:func:`derive`); the others
    are made one by one. ``run_id``: the one run of every row of every table, when the caller
    knows it (no run id is then looked up, see :func:`derive`)."""
    batch = derivable(tables)
    if len(batch) < 2:
        return [display_rows(t, verdicts, now) for t in tables]
    chosen = set(batch)
    out: list[pa.Table | None] = [
        None if i in chosen else display_rows(t, verdicts, now) for i, t in enumerate(tables)
    ]
    d = derive([tables[i] for i in batch], verdicts, now, run_id)
    state = pc.take(state_names(), from_numpy(d.code))
    durations = from_numpy(d.duration, pa.float64(), null=d.duration > MAX_DURATION_S)
    lost_reason = d.lost_reason()
    first = tables[batch[0]].schema
    if all(tables[i].schema == first for i in batch[1:]):
        # One display table over the tables joined (no copy), then each table's slice of it:
        # building a table per node cost more than its rows.
        joined = pa.concat_tables([tables[i] for i in batch])
        whole = _display_table(joined, state, durations, lost_reason)
        at = 0
        for i in batch:
            n = tables[i].num_rows
            out[i] = whole.slice(at, n)
            at += n
        return out  # type: ignore[return-value]
    at = 0
    for i in batch:
        n = tables[i].num_rows
        out[i] = _display_table(
            tables[i],
            state.slice(at, n),
            durations.slice(at, n),
            lost_reason.slice(at, n) if lost_reason is not None else None,
        )
        at += n
    return out  # type: ignore[return-value]


def _display_table(
    packets: pa.Table, state: pa.Array, durations: pa.Array, lost: pa.Array | None
) -> pa.Table:
    """Display rows of packet rows from their derived states, durations and LOST reasons."""
    n = packets.num_rows
    tag_cols = [c for c in packets.column_names if c.startswith(TAG_PREFIX)]
    return pa.table(
        [
            packets.column("key"),
            packets.column("run_id"),
            state,
            packets.column("running_ts"),
            packets.column("ts"),
            durations,
            packets.column("error"),
            lost if lost is not None else pa.nulls(n, pa.string()),
            *[packets.column(c) for c in tag_cols],
        ],
        names=[*ROW_COLUMNS, *[display_tag_name(c[len(TAG_PREFIX) :]) for c in tag_cols]],
    )


def count_states(rows: pa.Table) -> dict[str, int]:
    """Counts per shown state of display rows (every state present, zeros included)."""
    out = {s: 0 for s in ("SUCCESS", "CACHED", "FAILED", "RUNNING", "LOST")}
    if rows.num_rows:
        vc = pc.value_counts(rows.column("state"))
        for item in vc.to_pylist():
            out[item["values"]] = item["counts"]
    return out


def duration_stats(rows: pa.Table) -> tuple[float | None, float | None]:
    """Median and max duration of finished (SUCCESS/FAILED) packets with a known start."""
    if rows.num_rows == 0:
        return None, None
    mask = pc.is_in(rows.column("state"), pa.array(["SUCCESS", "FAILED"]))
    d = pc.drop_null(pc.filter(rows.column("duration_s"), mask))
    if len(d) == 0:
        return None, None
    arr = d.to_numpy()
    return median(arr), float(arr.max())


def median(values: np.ndarray) -> float:
    """``float(np.median(values))`` for a non-empty 1-D float array, without ``np.median``,
    which imports ``numpy.ma`` (about 15 ms of start-up) on first use. Same value: the same
    order statistics, and the same ``np.mean`` of the middle two."""
    if np.isnan(values).any():
        return float("nan")
    n = len(values)
    k = n // 2
    if n % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, [k - 1, k])
    return float(np.mean(part[k - 1 : k + 1]))


_DIGITS = re.compile(r"([0-9]+)")  # ASCII digits only, as RE2's \d in the Arrow path


@lru_cache(maxsize=1 << 16)
def natural_key(text: str) -> tuple:
    """Sort key for natural order: runs of digits compare as numbers (``s2`` < ``s10``).

    Values equal by this key (``s02``, ``s2``) are ordered by their text. Cached: the same tag
    values recur in every node (the summary orders the FAILED rows of each node in turn).
    """
    parts = _DIGITS.split(text)  # text, digits, text, digits, …, text
    key = [(1, parts[0])] if parts[0] else []
    for i in range(1, len(parts), 2):
        key.append((0, int(parts[i])))
        if parts[i + 1]:
            key.append((1, parts[i + 1]))
    return tuple(key)


def _dense_rank(values: pa.Array) -> np.ndarray:
    return pc.rank(values, sort_keys="ascending", tiebreaker="dense").to_numpy().astype(np.int64)


def _natural_order(values: pa.Array) -> np.ndarray:
    """Indices of distinct string ``values`` in natural order (as :func:`natural_key`, then
    the text itself). Vectorised for values with at most one run of digits (``subject-12``,
    ``s2``); else sorted in Python."""
    m = pc.extract_regex(values, r"^(?P<p>\D*)(?P<n>\d{1,18})(?P<r>\D*)$")
    matched = pc.is_valid(m)
    unmatched = pc.filter(values, pc.invert(matched))
    if len(unmatched) and pc.any(pc.match_substring_regex(unmatched, r"\d")).as_py():
        keys = [(natural_key(v), v) for v in values.to_pylist()]
        return np.array(sorted(range(len(keys)), key=keys.__getitem__), np.int64)
    m = pc.fill_null(m, {"p": "", "n": "", "r": ""})  # struct fields of unmatched rows
    prefix = pc.if_else(matched, pc.struct_field(m, "p"), values)
    digits = pc.struct_field(m, "n")
    number = pc.if_else(matched, pc.cast(pc.if_else(matched, digits, "0"), pa.int64()), -1)
    rest = pc.if_else(matched, pc.struct_field(m, "r"), "")
    return np.lexsort(
        (
            _dense_rank(values),
            _dense_rank(rest),
            number.to_numpy(zero_copy_only=False),
            _dense_rank(prefix),
        )
    )


def _ranks(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Each row's rank in THE tag order: numbers if every value is a number, else natural order.

    Nulls rank last. Computed over distinct values (tag values repeat).
    """
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    values = enc.dictionary
    if len(values) == 0:
        return np.zeros(len(enc), np.int64)
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    try:
        numbers = pc.cast(pc.utf8_trim_whitespace(values), pa.float64())
        order = np.lexsort((_dense_rank(values), numbers.to_numpy(zero_copy_only=False)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        order = _natural_order(values)
    rank = np.empty(len(values) + 1, np.int64)
    rank[order] = np.arange(len(values))
    rank[len(values)] = len(values)  # nulls last
    idx = pc.fill_null(enc.indices, len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
    return rank[idx]


#: Up to this many rows are ordered in Python (Arrow's per-call overhead dominates).
_SMALL = 2000


def _py_keys(values: list) -> list[tuple]:
    """Per value, a key of THE tag order (see :func:`_ranks`), nulls last."""
    present = [str(v) for v in values if v is not None]
    try:
        # As Arrow's cast (the path for large tables): ASCII, no digit separators.
        numeric = all(
            (t.isascii() and "_" not in t and float(t.strip()) == float(t.strip()))
            or t.strip().lower() in ("nan", "+nan", "-nan")
            for t in present
        )
    except (ValueError, OverflowError):
        numeric = False
    out = []
    for v in values:
        if v is None:
            out.append((2,))
        elif numeric:
            f = float(str(v).strip())
            out.append((0, (1, 0.0) if f != f else (0, f), str(v)))
        else:
            out.append((1, natural_key(str(v)), str(v)))
    return out


def _constant(values: list) -> bool:
    """Whether every value is the same text (or every one null). Only text: numbers that are
    equal may still sort apart by their text (``0.0``, ``-0.0``)."""
    first = values[0]
    if first is not None and type(first) is not str:
        return False
    return all(v == first for v in values)


def order_rows(packets: pa.Table) -> pa.Table:
    """Packet rows in THE order they are listed: by tag values (in column order), then run id.

    Each tag sorts numerically when all its values are numbers, else naturally (``s2`` <
    ``s10``) — the same order however the rows were loaded. Takes packet rows (``tag:<name>``
    columns) or display rows (tag columns after :data:`ROW_COLUMNS`).
    """
    if packets.num_rows <= 1:
        return packets
    names = packets.column_names
    if names[: len(ROW_COLUMNS)] == list(ROW_COLUMNS):
        cols = names[len(ROW_COLUMNS) :]
    else:
        cols = [c for c in names if c.startswith(TAG_PREFIX)]
    order = row_order(packets, cols)
    if (order == np.arange(len(order))).all():
        return packets
    return packets.take(from_numpy(order))


def row_order(packets: pa.Table, cols: list[str]) -> np.ndarray:
    """The permutation :func:`order_rows` applies: rows by the tag columns ``cols`` (in that
    order), then by ``run_id``. ``packets`` needs only those columns."""
    if packets.num_rows <= 1:
        return np.arange(packets.num_rows, dtype=np.int64)
    if packets.num_rows <= _SMALL:
        columns = [packets.column(c).to_pylist() for c in [*cols, "run_id"]]
        # A column of one value (the run id, in a one-run view) orders nothing: its keys are
        # all equal, and the sort is stable.
        columns = [values for values in columns if not _constant(values)] or columns[:1]
        keys = list(zip(*[_py_keys(values) for values in columns], strict=True))
        order = np.array(sorted(range(packets.num_rows), key=keys.__getitem__), np.int64)
    else:
        keys = [_ranks(packets.column(c)) for c in [*cols, "run_id"]]
        order = np.lexsort(keys[::-1])
    return order


def _is_number(text: str) -> bool:
    """Whether :func:`_py_keys` counts a text as a number (as Arrow's cast would)."""
    try:
        t = text.strip()
        return (text.isascii() and "_" not in text and float(t) == float(t)) or t.lower() in (
            "nan",
            "+nan",
            "-nan",
        )
    except (ValueError, OverflowError):
        return False


def _value_ranks(values: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For distinct texts: whether each is a number (:func:`_is_number`), its rank among the
    numbers by the numeric key of :func:`_py_keys` (-1: no number), and its rank among all by
    the natural key of :func:`_py_keys`."""
    is_num = np.fromiter((_is_number(v) for v in values), bool, len(values))
    num_rank = np.full(len(values), -1, np.int64)
    numbers = np.flatnonzero(is_num).tolist()
    if numbers:
        floats = {i: float(values[i].strip()) for i in numbers}
        by_number = sorted(
            numbers,
            key=lambda i: ((1, 0.0) if floats[i] != floats[i] else (0, floats[i]), values[i]),
        )
        num_rank[by_number] = np.arange(len(by_number))
    nat_rank = np.empty(len(values), np.int64)
    by_text = sorted(range(len(values)), key=lambda i: (natural_key(values[i]), values[i]))
    nat_rank[by_text] = np.arange(len(values))
    return is_num, num_rank, nat_rank


def _text_column(column: pa.ChunkedArray) -> bool:
    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


def row_orders(tables: list[pa.Table], cols: list[list[str]]) -> list[np.ndarray]:
    """:func:`row_order` of each table (by its tag columns ``cols[i]``, then ``run_id``): the
    same permutations, with the sort keys of the small tables computed once for all of them.

    A small table (at most :data:`_SMALL` rows, text columns only) is ordered by the Python
    keys of :func:`_py_keys`; here each distinct text gets its key once, over every table, and
    each table is ordered by ranks of those keys (``np.lexsort``: stable, as ``sorted``).
    Other tables are ordered by :func:`row_order` itself.
    """
    out: list[np.ndarray | None] = [None] * len(tables)
    batch: list[int] = []
    for i, (table, names) in enumerate(zip(tables, cols, strict=True)):
        by = [*names, "run_id"]
        if table.num_rows <= 1:
            out[i] = np.arange(table.num_rows, dtype=np.int64)
        elif table.num_rows <= _SMALL and all(_text_column(table.column(c)) for c in by):
            batch.append(i)
        else:
            out[i] = row_order(table, names)
    if batch:
        # Per column name: one dictionary over that column of every table that has it.
        keys: dict[int, dict[str, np.ndarray]] = {i: {} for i in batch}
        names_in_order: list[str] = []
        for i in batch:
            for c in [*cols[i], "run_id"]:
                if c not in names_in_order:
                    names_in_order.append(c)
        for name in names_in_order:
            users = [i for i in batch if name in cols[i] or name == "run_id"]
            chunks = [
                ch.cast(pa.string()) if ch.type != pa.string() else ch
                for i in users
                for ch in tables[i].column(name).chunks
            ]
            enc = pc.dictionary_encode(pa.chunked_array(chunks, pa.string())).combine_chunks()
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            is_num, num_rank, nat_rank = _value_ranks(enc.dictionary.to_pylist())
            last = len(is_num)  # nulls after every value
            at = 0
            for i in users:
                mine = codes[at : at + tables[i].num_rows]
                at += tables[i].num_rows
                present = mine[mine >= 0]
                ranks = num_rank if is_num[present].all() else nat_rank
                if not last:  # every value null
                    keys[i][name] = np.zeros(len(mine), np.int64)
                    continue
                keys[i][name] = np.where(mine >= 0, ranks[np.maximum(mine, 0)], last)
        for i in batch:
            columns = [keys[i][c] for c in [*cols[i], "run_id"]]
            out[i] = np.lexsort(columns[::-1])
    return [o if o is not None else np.zeros(0, np.int64) for o in out]
