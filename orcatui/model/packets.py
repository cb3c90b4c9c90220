"""A node's packets: the events of one status table folded into one row per packet.

A packet is (run id, user tag values). Its state is that of its latest event by
(timestamp, terminal-wins-tie, event id): ``prio`` is 0 for RUNNING and 1 for a terminal event,
and every comparison in this module orders rows by ``(ts, prio, id)``. Folding is
idempotent (an event seen twice changes nothing) and independent of the order events arrive in.

Folding a large batch is vectorised over Arrow; folding a small batch into a large node is a
dictionary update per packet touched, so it costs O(new events), not O(history).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.keys import escape, packet_keys
from orcatui.model.states import STATE_CODE, state_names
from orcatui.store.schema import TAG_PREFIX

if TYPE_CHECKING:
    from orcatui.model.event_history import EventHistory

#: Columns of a packet row, before the ``tag:<name>`` columns.
PACKET_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("run_id", pa.string()),
        ("ts", pa.int64()),  # µs of the latest event
        ("prio", pa.int8()),
        ("id", pa.binary()),
        ("state", pa.int8()),  # State code
        ("running_ts", pa.int64()),  # µs of the packet's RUNNING event in its run, if seen
        ("error", pa.string()),
    ]
)
_SMALL_BATCH_RATIO = 8
_MIN_INT64 = np.iinfo(np.int64).min
_INT64 = pa.int64()
_NUMPY_OF = {_INT64: np.int64, pa.float64(): np.float64, pa.int8(): np.int8}


def from_numpy(
    values: np.ndarray, type_: pa.DataType = _INT64, null: np.ndarray | None = None
) -> pa.Array:
    """A 1-D numpy array as an int64/float64/int8 Arrow array, ``null`` marking nulls.

    The same array as ``pa.array(values, type_, mask=null)``, built from buffers: the first
    ``pa.array`` of a numpy array imports ``numpy.ma`` (about 15 ms of start-up).
    """
    values = np.ascontiguousarray(values, dtype=_NUMPY_OF[type_])
    validity, nulls = None, 0
    if null is not None and null.any():
        validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
        nulls = int(null.sum())
    return pa.Array.from_buffers(
        type_, len(values), [validity, pa.py_buffer(values)], null_count=nulls
    )


def bools(mask: np.ndarray) -> pa.Array:
    """A numpy bool array as an Arrow one, built from buffers (as :func:`from_numpy`, and for
    the same reason: ``pa.array`` of a numpy array imports ``numpy.ma``)."""
    bits = np.packbits(np.asarray(mask, bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def events_to_packet_rows(events: pa.Table, *, with_run: bool = True) -> pa.Table:
    """Normalised status events → packet rows (one per event, not yet reduced).

    ``with_run=False`` keys the rows by their tags only (:func:`keys.packet_keys`).
    """
    state = events.column("state")
    state_code = pc.cast(pc.index_in(state, state_names()), pa.int8())
    # RUNNING from the codes (a second comparison of every state text cost as much); a state
    # with no code (never, after normalisation) is compared as text, as before.
    running = (
        pc.equal(state_code, STATE_CODE["RUNNING"])
        if not state_code.null_count
        else pc.equal(state, "RUNNING")
    )
    tag_cols = [c for c in events.column_names if c.startswith(TAG_PREFIX)]
    return pa.table(
        [
            packet_keys(events, with_run=with_run),
            events.column("run_id"),
            events.column("ts"),
            pc.cast(pc.invert(running), pa.int8()),
            pc.fill_null(events.column("id"), b""),
            state_code,
            pc.if_else(running, events.column("ts"), pa.scalar(None, pa.int64())),
            events.column("error"),
            *[events.column(c) for c in tag_cols],
        ],
        names=[*PACKET_SCHEMA.names, *tag_cols],
    )


def _id_words(ids: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Event ids as two big-endian uint64 words each (orderable), or None if their lengths vary.

    All-empty ids (rows rebuilt from Delta statistics carry none) compare equal: zeros.
    """
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    n = len(arr)
    lengths = pc.binary_length(arr)
    lo, hi = pc.min_max(lengths).values()
    if lo.as_py() == hi.as_py() == 0:
        zeros = np.zeros(n, np.uint64)
        return zeros, zeros
    if not lo.as_py() == hi.as_py() == 16 or arr.null_count:
        return None
    offsets = np.frombuffer(arr.buffers()[1], np.int32, n + 1, arr.offset * 4)
    data = np.frombuffer(arr.buffers()[2], np.uint8)[offsets[0] : offsets[0] + 16 * n]
    words = data.view(">u8").reshape(n, 2).astype(np.uint64)
    return words[:, 0], words[:, 1]


def _fast_order(rows: pa.Table) -> tuple[np.ndarray, np.ndarray] | None:
    """The order of :func:`_last_of_each_key` from one int64 sort key, when it can be built
    (see :func:`_order_by_codes`; the codes are the keys' dictionary codes)."""
    enc = pc.dictionary_encode(rows.column("key")).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    prio = rows.column("prio").to_numpy().astype(np.int64)
    return _order_by_codes(codes, rows.column("ts").to_numpy(), prio, rows.column("id"))


def _order_by_codes(
    codes: np.ndarray, ts: np.ndarray, prio: np.ndarray, ids: pa.ChunkedArray | pa.Array
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows ordered by (packet code, ts, prio, event id) and a mask of each code's last row;
    None when the packed key does not fit or the ids cannot be compared as two words (a null
    id compares as the empty one).

    (code, ts, prio) are packed into 63 bits and sorted stably; where two rows tie on all three,
    the event ids decide, so ties fall back to a lexsort that includes them.
    """
    span = int(ts.max() - ts.min()) if len(ts) else 0
    ts_bits = max(span.bit_length(), 1) + 1  # + 1 bit for prio
    top = int(codes.max()) if len(codes) else 0
    if top.bit_length() + ts_bits > 62:
        return None
    packed = (codes << ts_bits) | ((ts - ts.min()) << 1) | prio if len(ts) else codes
    order = np.argsort(packed, kind="stable")
    ordered = packed[order]
    if (ordered[1:] == ordered[:-1]).any():
        words = _id_words(pc.fill_null(ids, b"") if ids.null_count else ids)
        if words is None:
            return None
        order = np.lexsort((words[1], words[0], packed))
    grouped = codes[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = grouped[:-1] != grouped[1:]
    return order, last


def _last_of_each_key(rows: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Sort order by (key, ts, prio, id) and a mask of the last row of each key in that order.

    Keys are grouped by their dictionary code (first appearance), not sorted as strings; within a
    key, rows sort by time, terminal-wins-tie and event id. A numpy lexsort on integer columns is
    several times faster than Arrow's sort on the string key.
    """
    fast = _fast_order(rows)
    if fast is not None:
        return fast
    order = pc.sort_indices(
        rows,
        [("key", "ascending"), ("ts", "ascending"), ("prio", "ascending"), ("id", "ascending")],
    )
    keys = pc.take(rows.column("key"), order).combine_chunks()
    n = len(keys)
    last = np.ones(n, dtype=bool)
    if n > 1:
        last[:-1] = pc.not_equal(keys.slice(0, n - 1), keys.slice(1)).to_numpy(zero_copy_only=False)
    return order.to_numpy(), last


def _in_key_order(rows: pa.Table, picked: np.ndarray) -> np.ndarray:
    """``picked`` row indices reordered by key, so packets list by run and tag values."""
    keys = pc.take(rows.column("key"), from_numpy(picked))
    return picked[pc.sort_indices(keys).to_numpy()]


def latest_rows(rows: pa.Table) -> pa.Table:
    """The latest row of each ``key`` by (ts, prio, id), in key order; rows are kept whole."""
    if rows.num_rows <= 1:
        return rows
    order, last = _last_of_each_key(rows)
    return rows.take(from_numpy(_in_key_order(rows, order[last])))


def reduce_packet_rows(rows: pa.Table) -> pa.Table:
    """Keep the latest row of each key; ``running_ts`` is the latest RUNNING time of the key."""
    if rows.num_rows <= 1:
        return rows
    order, last = _last_of_each_key(rows)
    picked = order[last]
    keyed = pc.sort_indices(pc.take(rows.column("key"), from_numpy(picked))).to_numpy()
    latest = rows.take(from_numpy(picked[keyed]))
    if latest.num_rows == rows.num_rows:
        return latest
    running = pc.fill_null(rows.column("running_ts"), _MIN_INT64).to_numpy()[order]
    starts = np.concatenate(([0], np.nonzero(last)[0][:-1] + 1))
    best = np.maximum.reduceat(running, starts)[keyed]
    col = from_numpy(best, pa.int64(), null=best == _MIN_INT64)
    return latest.set_column(latest.schema.get_field_index("running_ts"), "running_ts", col)


def packet_rows(events: pa.Table) -> pa.Table:
    """The rows of ``reduce_packet_rows(events_to_packet_rows(events))``, faster for one run's
    events; the rows may come in another order (no reader relies on the order of packet rows:
    lists are ordered by :func:`views.order_rows`).

    Events of a single run (nearly every batch) are grouped by the codes of their tag values
    (:func:`_one_run_rows`); keys are built for the reduced rows only, the run's escaped id in
    front — half the text to build and none to hash or sort as keys.
    """
    tagged = any(c.startswith(TAG_PREFIX) for c in events.column_names)
    run = only_run(events) if tagged else None
    if run is None:
        return reduce_packet_rows(events_to_packet_rows(events))
    fast = _one_run_rows(events, run)
    if fast is not None:
        return fast
    rows = reduce_packet_rows(events_to_packet_rows(events, with_run=False))
    keys = pc.binary_join_element_wise(pa.scalar(escape(run)), rows.column("key"), "")
    return rows.set_column(0, "key", keys)


def only_run(rows: pa.Table) -> str | None:
    """The run id of ``rows`` when they are all of one (no null), else None: a batch of one
    run (nearly every one) is folded and counted without hashing its run ids."""
    run_ids = rows.column("run_id")
    first = run_ids[0].as_py() if rows.num_rows else None
    if first is None or run_ids.null_count or not pc.all(pc.equal(run_ids, first)).as_py():
        return None
    return first


def _tag_codes(events: pa.Table) -> np.ndarray | None:
    """One int64 per event, equal for two events exactly when all their tag values are (a
    null value is a value of its own, as in keys); None when the codes would not fit."""
    tags = sorted(c for c in events.column_names if c.startswith(TAG_PREFIX))
    codes = np.zeros(events.num_rows, np.int64)
    span = 1
    for name in tags:
        col = events.column(name)
        enc = (col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()).dictionary_encode()
        size = len(enc.dictionary) + 1  # the last code: null
        if span * size >= 1 << 40:
            return None
        indices = enc.indices
        if indices.null_count:
            indices = pc.fill_null(indices, size - 1)
        codes = codes * size + indices.to_numpy()
        span *= size
    return codes


def _one_run_rows(events: pa.Table, run: str) -> pa.Table | None:
    """Packet rows of one run's events, reduced before any key is built (see
    :func:`packet_rows`); None when this path does not apply (the caller takes the general one).

    The order and the choice of each packet's row are those of :func:`_last_of_each_key`: by
    (tag codes, ts, prio), event ids deciding full ties.
    """
    codes = _tag_codes(events)
    if codes is None:
        return None
    state_code = pc.index_in(events.column("state"), state_names())
    if state_code.null_count or events.column("ts").null_count:
        return None
    state_np = state_code.to_numpy().astype(np.int8)
    running = state_np == STATE_CODE["RUNNING"]
    ts = events.column("ts").to_numpy()
    prio = (~running).astype(np.int64)
    ordering = _order_by_codes(codes, ts, prio, events.column("id"))
    if ordering is None:
        return None
    order, last = ordering
    picked = order[last]
    take = from_numpy(picked)
    running_ts = np.where(running, ts, _MIN_INT64)[order]
    starts = np.concatenate(([0], np.nonzero(last)[0][:-1] + 1))
    best = np.maximum.reduceat(running_ts, starts) if len(order) else running_ts
    tag_cols = [c for c in events.column_names if c.startswith(TAG_PREFIX)]
    latest = events.select(["run_id", "ts", "id", "error", *tag_cols]).take(take)
    ids = latest.column("id")
    return pa.table(
        [
            packet_keys(latest, with_run=False, prefix=escape(run)),
            latest.column("run_id"),
            latest.column("ts"),
            from_numpy(prio[picked], pa.int8()),
            pc.fill_null(ids, b"") if ids.null_count else ids,
            from_numpy(state_np[picked], pa.int8()),
            from_numpy(best, pa.int64(), null=best == _MIN_INT64),
            latest.column("error"),
            *[latest.column(c) for c in tag_cols],
        ],
        names=[*PACKET_SCHEMA.names, *tag_cols],
    )


def packet_rows_of(events: pa.Table) -> tuple[pa.Table, int | None]:
    """:func:`packet_rows` of some events and their earliest time: what
    :meth:`NodePackets.fold_packet_rows` takes."""
    if events.num_rows == 0:
        return packet_rows(events), None
    return packet_rows(events), pc.min(events.column("ts")).as_py()


def _unify(tables: Iterable[pa.Table]) -> pa.Table:
    return pa.concat_tables(list(tables), promote_options="default")


class NodePackets:
    """The packets of one node, folded incrementally from status events."""

    def __init__(self) -> None:
        self._base: pa.Table = PACKET_SCHEMA.empty_table()
        self._overlay: dict[str, dict] = {}  # key -> packet row changed since the last materialise
        self._index: dict[str, int] | None = None  # key -> base row, built on first small fold
        self._np: dict[str, np.ndarray] | None = None  # base columns for small folds, when made
        self.counts: Counter[tuple[str, int]] = Counter()  # (run id, state code) -> packets
        self.version = 0
        self.first_us: int | None = None  # earliest event seen: orders nodes as the run met them
        #: When set, every event folded is also kept there (the app's time cursor).
        self.history: EventHistory | None = None

    @property
    def tag_names(self) -> list[str]:
        """User tag names seen in this node, in order of first appearance."""
        names = [c[len(TAG_PREFIX) :] for c in self._base.column_names if c.startswith(TAG_PREFIX)]
        for row in self._overlay.values():
            for c in row:
                if c.startswith(TAG_PREFIX) and c[len(TAG_PREFIX) :] not in names:
                    names.append(c[len(TAG_PREFIX) :])
        return names

    # -- folding ---------------------------------------------------------------------------
    def fold(self, events: pa.Table) -> None:
        """Fold normalised status events in (any batch, any order, duplicates allowed)."""
        if events.num_rows == 0:
            return
        if self.history is not None:  # the app keeps every event (its time cursor): whole keys
            lo = pc.min(events.column("ts")).as_py()
            event_rows = events_to_packet_rows(events)
            self.history.add(event_rows)
            self.fold_packet_rows(reduce_packet_rows(event_rows), lo)
        else:
            self.fold_packet_rows(*packet_rows_of(events))

    def fold_packet_rows(self, rows: pa.Table, lo: int | None) -> None:
        """Fold :func:`packet_rows_of` some events in: the packet rows, and the earliest time
        of the events (``fold`` in two steps: the first needs no node and may run elsewhere)."""
        if rows.num_rows == 0:
            return
        if lo is not None and (self.first_us is None or lo < self.first_us):
            self.first_us = lo
        size = self._base.num_rows + len(self._overlay)
        if size == 0 or rows.num_rows * _SMALL_BATCH_RATIO > size:
            merged = reduce_packet_rows(_unify([self.table(), rows])) if size else rows
            self._set_base(merged)
            self.counts = _count(merged)
        else:
            self._fold_small(rows)
        self.version += 1

    def _position(self, key: str) -> int | None:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self._base.column("key").to_pylist())}
        return self._index.get(key)

    def _current(self, key: str) -> dict | None:
        row = self._overlay.get(key)
        if row is not None:
            return row
        i = self._position(key)
        if i is None:
            return None
        a = self._np if self._np is not None else self._numpy()
        rts = int(a["running_ts"][i])
        return {
            "ts": int(a["ts"][i]),
            "prio": int(a["prio"][i]),
            "id": self._base.column("id")[i].as_py() or b"",
            "state": int(a["state"][i]),
            "running_ts": None if rts == _MIN_INT64 else rts,
            "run_id": self._base.column("run_id")[i].as_py(),
            "_base": i,
        }

    def _fold_small(self, rows: pa.Table) -> None:
        for new in rows.to_pylist():
            key = new["key"]
            cur = self._current(key)
            if cur is None:
                self._overlay[key] = new
                self.counts[(new["run_id"], new["state"])] += 1
                continue
            new_wins = (new["ts"], new["prio"], new["id"]) >= (cur["ts"], cur["prio"], cur["id"])
            runs = [t for t in (cur["running_ts"], new["running_ts"]) if t is not None]
            running_ts = max(runs) if runs else None
            if not new_wins and running_ts == cur["running_ts"]:
                continue
            if new_wins:
                if cur["state"] != new["state"]:
                    self.counts[(cur["run_id"], cur["state"])] -= 1
                    self.counts[(new["run_id"], new["state"])] += 1
                row = dict(new)
            else:
                row = self._full_row(key, cur)
            row["running_ts"] = running_ts
            self._overlay[key] = row

    def _full_row(self, key: str, cur: dict) -> dict:
        if "_base" not in cur:
            return dict(cur)
        return self._base.slice(cur["_base"], 1).to_pylist()[0]

    # -- materialising ---------------------------------------------------------------------
    def _set_base(self, base: pa.Table) -> None:
        self._base = base
        self._overlay = {}
        self._index = None
        self._np = None

    def _numpy(self) -> dict[str, np.ndarray]:
        """The base's columns that small folds compare, as numpy (made on the first small fold
        after a change of base: a cold load makes none)."""
        b = self._base
        self._np = {
            "ts": b.column("ts").to_numpy(),
            "prio": b.column("prio").to_numpy(),
            "state": b.column("state").to_numpy(),
            "running_ts": pc.fill_null(b.column("running_ts"), _MIN_INT64).to_numpy(),
        }
        return self._np

    def table(self) -> pa.Table:
        """All packets as one Arrow table (``PACKET_SCHEMA`` + ``tag:<name>`` columns).

        Rows keep their positions across folds; new packets are appended.
        """
        if not self._overlay:
            return self._base
        changed = [{k: v for k, v in r.items() if k != "_base"} for r in self._overlay.values()]
        schema = _unify([self._base.schema.empty_table(), _rows_schema(changed)]).schema
        extra = pa.Table.from_pylist(changed, schema=schema)
        base = (
            _unify([self._base, extra.schema.empty_table()])
            if extra.schema != self._base.schema
            else self._base
        )
        n = base.num_rows
        take = np.arange(n + len(changed), dtype=np.int64)
        appended: list[str] = []
        keep = np.ones(n + len(changed), dtype=bool)
        for j, row in enumerate(changed):
            pos = self._position(row["key"])
            if pos is None:
                appended.append(row["key"])
            else:
                take[pos] = n + j
                keep[n + j] = False
        combined = pa.concat_tables([base, extra.select(base.column_names)])
        self._base = combined.take(from_numpy(take[keep]))
        if self._index is not None:
            for k in appended:
                self._index[k] = len(self._index)
        self._overlay = {}
        self._np = None
        return self._base


def _rows_schema(rows: list[dict]) -> pa.Table:
    tag_cols = sorted({c for r in rows for c in r if c.startswith(TAG_PREFIX)})
    return pa.schema([*PACKET_SCHEMA, *[(c, pa.string()) for c in tag_cols]]).empty_table()


def _count(rows: pa.Table) -> Counter[tuple[str, int]]:
    if rows.num_rows == 0:
        return Counter()
    first = only_run(rows)
    if first is not None and not rows.column("state").null_count:
        # One run (the usual node): no hashing of every run id.
        bins = np.bincount(rows.column("state").to_numpy().astype(np.int64))
        return Counter({(first, int(i)): int(bins[i]) for i in np.nonzero(bins)[0]})
    enc = pc.dictionary_encode(rows.column("run_id")).combine_chunks()
    runs = enc.dictionary.to_pylist()
    combined = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64) * 8
    combined += rows.column("state").to_numpy()
    bins = np.bincount(combined)
    return Counter({(runs[int(i) // 8], int(i) % 8): int(bins[i]) for i in np.nonzero(bins)[0]})
