"""The state of a root as the store said it at a moment ``T`` (``summary --at``, the time cursor).

Everything is judged as of ``T``: status events and log rows stamped after ``T`` are ignored, the
clock reads ``T`` (so running packets' ages and run liveness are those of then), and run records —
of which only the latest version is on disk — are wound back by their own timestamps:

* ``started_at`` after ``T``: the record did not exist yet and is dropped (a run with events
  at or before ``T`` is then judged from its events alone, like an orcapod run);
* ``ended_at`` after ``T``: the run had not ended yet (``ended_at``/``outcome`` cleared);
* the writer's last sign of life (``heartbeat_at``, or ``ended_at``) after ``T``: the writer was
  demonstrably alive at ``T``, so its heartbeat is taken as fresh then, and the verdict's reason
  says so; a heartbeat at or before ``T`` is judged by its age at ``T``.

Whether a process was still running at ``T`` cannot be known now, so ``/proc`` is never consulted.

Two ways in, with the same result (the tests hold them equal):

* :func:`load_as_of` — one moment, for ``summary --at``: the store's threaded cold load folded
  by a :class:`Monitor` that drops rows after ``T`` (``until_us``; :class:`AsOfMonitor`), its run
  records wound back by :func:`filter_update`.
* :class:`TimeCursor` — many moments, for the app's time cursor: the raw events are kept per
  node, sorted by packet then time, so the state at any ``T`` is a few vectorised passes
  (no re-fold): :meth:`TimeCursor.monitor_at` returns an :class:`AsOfMonitor` in milliseconds.
  Its triage (progress, ETA, slow bounds: :func:`cursor_triage`) is read from the same sorted
  events, so a step builds no node's packet table but the one shown (equal figures: the tests
  hold them to :meth:`Monitor.triage` on the display rows).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.event_history import codes as column_codes
from orcatui.model.logs import NodeLogs
from orcatui.model.monitor import Monitor, Node, NodeKey, NodeTriage, PipelineModel
from orcatui.model.packets import NodePackets, from_numpy
from orcatui.model.progress import STATES, NodeTimes
from orcatui.model.runs import (
    DEFAULT_STALE_AFTER_S,
    THIS_HOST,
    RunRecord,
    RunStats,
    Verdict,
    merge_records,
)
from orcatui.model.slow import MIN_PEERS as MIN_PEERS_FOR_BOUND
from orcatui.model.slow import node_bound
from orcatui.model.states import State
from orcatui.model.views import MAX_DURATION_S
from orcatui.store.store import StoreUpdate

Pipeline = tuple[str, ...]
_MIN_INT64 = np.iinfo(np.int64).min
#: Appended to the reason of a run judged live because its record shows life after ``T``.
ALIVE_LATER = "alive then: its record shows a heartbeat after this moment"
#: Versions of a moment's packets: negative, so that they never equal a live node's (counted
#: up from 0 by its folds); the live monitor's cached views, handed to every moment, are keyed
#: by the packets' version.
_versions = itertools.count(-1, -1)


def to_us(at: float) -> int:
    """Epoch seconds → the store's integer microseconds (events at exactly ``T`` count)."""
    return round(at * 1_000_000)


# -- one moment: filtering a store update --------------------------------------------------------
@dataclass(frozen=True)
class RecordAsOf:
    """A run record wound back to ``T``: the dict to fold (None: not yet written), and notes."""

    data: dict[str, Any] | None
    alive_later: bool = False  # the writer showed life after T (so it was alive at T)


def record_as_of(data: Mapping[str, Any], at: float) -> RecordAsOf:
    """A run record dict as it stood at ``at`` (see the module docstring for the rules).

    A record that cannot be parsed is passed on unchanged: the monitor reports and skips it the
    same way as without ``--at``.
    """
    try:
        rec = RunRecord.from_json(dict(data))
    except (ValueError, TypeError):
        return RecordAsOf(dict(data))
    if rec.started_at is not None and rec.started_at > at:
        return RecordAsOf(None)
    out = dict(data)
    signs = [t for t in (rec.heartbeat_at, rec.ended_at) if t is not None]
    alive_later = bool(signs) and max(signs) > at
    if rec.ended_at is not None and rec.ended_at > at:
        out["ended_at"] = None
        out["outcome"] = None
    if alive_later:
        out["heartbeat_at"] = at
        # the offset was measured against a later heartbeat: applied to T it would misjudge
        out.pop("_clock_offset_s", None)
    return RecordAsOf(out, alive_later)


def _until(table: pa.Table, at_us: int) -> pa.Table:
    keep = pc.fill_null(pc.less_equal(table.column("ts"), at_us), False)
    return table.filter(keep)


def filter_update(update: StoreUpdate, at: float) -> tuple[StoreUpdate, set[tuple[Pipeline, str]]]:
    """``update`` with events and log rows after ``at`` dropped and run records wound back.

    Returns the filtered update and the (pipeline, run id) pairs whose record showed life after
    ``at`` (their verdict's reason says so). Log rows without a readable timestamp are dropped
    too: they cannot be placed before ``at``.
    """
    at_us = to_us(at)
    out = StoreUpdate(
        new_tables=list(update.new_tables),
        problems=list(update.problems),
        consumed=update.consumed,
    )
    for ref, events in update.status:
        kept = _until(events, at_us)
        if kept.num_rows:
            out.status.append((ref, kept))
    for ref, rows in update.logs:
        kept = _until(rows, at_us)
        if kept.num_rows:
            out.logs.append((ref, kept))
    alive: set[tuple[Pipeline, str]] = set()
    for pipeline, records in update.run_records.items():
        kept_records = []
        for data in records:
            wound = record_as_of(data, at)
            if wound.data is None:
                continue
            kept_records.append(wound.data)
            if wound.alive_later:
                alive.add((pipeline, str(wound.data.get("run_id"))))
        if kept_records:
            out.run_records[pipeline] = kept_records
    return out, alive


class AsOfMonitor(Monitor):
    """A :class:`Monitor` whose clock stands at ``at``; verdicts say when they were judged.

    Build it with :func:`load_as_of` or :meth:`TimeCursor.monitor_at`, not by refreshing it: a
    refresh would fold in events after ``at``.
    """

    def __init__(
        self,
        root: Path | str,
        at: float,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Iterable[Path] = (),
        this_host: str = THIS_HOST,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            root,
            stale_after=stale_after,
            job_files=job_files,
            clock=lambda: at,
            this_host=this_host,
            storage_options=storage_options,
            check_process=False,  # whether a process ran at T cannot be known now
            until_us=to_us(at),  # rows after T are dropped as they are folded
        )
        self.at = at
        self.alive_later: set[tuple[Pipeline, str]] = set()
        #: Set by :meth:`TimeCursor.monitor_at`: per node, its sorted events and which of them
        #: are each packet's latest at ``at`` (the triage's figures are read from them).
        self.cursor_nodes: dict[NodeKey, tuple[_NodeEvents, NodePackets]] = {}

    def refresh(self, *, only: set[Path] | None = None, rediscover: bool = True):  # type: ignore[override]
        """Refused: a historical view never reads newer data (build a new one instead)."""
        raise RuntimeError("an as-of view is fixed at its moment; build a new one to move it")

    def verdicts(self, pipeline: Pipeline, now: float | None = None) -> dict[str, Verdict]:
        """Liveness as of the moment; a run kept live by a later heartbeat says so."""
        out = super().verdicts(pipeline, self.at if now is None else now)
        for run_id, verdict in out.items():
            if verdict.live and (pipeline, run_id) in self.alive_later:
                out[run_id] = replace(verdict, reason=f"{verdict.reason} ({ALIVE_LATER})")
        return out

    def triage(
        self,
        pipeline: Pipeline,
        run_id: str,
        verdicts: Mapping[str, Verdict],
        now: float,
    ) -> dict[NodeKey, NodeTriage]:
        """:meth:`Monitor.triage`, the same figures; for a moment of the time cursor read from
        the cursor's sorted events (no packet table and no display rows per node: only the node
        shown needs its rows), else (``load_as_of``) the monitor's own way."""
        model = self.pipelines[pipeline]
        fast = self.cursor_nodes
        if not all(
            (hit := fast.get(n.key)) is not None and hit[0].fast for n in model.nodes.values()
        ):
            return super().triage(pipeline, run_id, verdicts, now)
        return cursor_triage(self, model, run_id, verdicts)


def load_as_of(
    root: Path | str,
    at: float,
    *,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    job_files: Iterable[Path] = (),
    this_host: str = THIS_HOST,
    storage_options: Mapping[str, str] | None = None,
) -> tuple[AsOfMonitor, list[str]]:
    """Read ``root`` once and fold only what the store held at ``at`` (``summary --at``).

    Returns the monitor and the one-line problems met while reading (as ``refresh`` does).
    Raises ``RootError`` when the root cannot be read at all.
    """
    monitor = AsOfMonitor(
        root,
        at,
        stale_after=stale_after,
        job_files=job_files,
        this_host=this_host,
        storage_options=storage_options,
    )
    # Each table's rows are folded in its reading thread, minus those after ``at`` (the
    # monitor's ``until_us``): the threaded cold load, never all raw events at once.
    update = monitor.store.poll(consume=monitor._consume)
    filtered, alive = filter_update(update, at)
    monitor.alive_later = alive
    monitor.apply(filtered)
    return monitor, list(update.problems)


# -- many moments: the time cursor ---------------------------------------------------------------
def wind_back(rec: RunRecord, at: float) -> tuple[RunRecord | None, bool]:
    """A parsed run record as it stood at ``at`` (None: not yet written), and whether its writer
    showed life after ``at`` — :func:`record_as_of`'s rules on a :class:`RunRecord`."""
    if rec.started_at is not None and rec.started_at > at:
        return None, False
    signs = [t for t in (rec.heartbeat_at, rec.ended_at) if t is not None]
    alive_later = bool(signs) and max(signs) > at
    changes: dict[str, Any] = {}
    if rec.ended_at is not None and rec.ended_at > at:
        changes.update(ended_at=None, outcome=None)
    if alive_later:
        changes["heartbeat_at"] = at
        changes["clock_offset_s"] = None  # measured against a later heartbeat
    return (replace(rec, **changes) if changes else rec), alive_later


_PACKETS_FIELDS = dict(vars(NodePackets()))


class FrozenPackets(NodePackets):
    """A node's packets as of a moment, computed by :class:`TimeCursor` (read-only).

    ``counts`` and ``first_us`` are set at once (the tree needs them); the packet table is
    materialised on first use (only the nodes whose rows are shown pay for it).
    """

    def __init__(
        self,
        source: _NodeEvents,
        present: np.ndarray,
        last: np.ndarray,
        running_ts: np.ndarray,
        counts: Counter[tuple[str, int]],
        first_us: int | None,
    ) -> None:
        # NodePackets.__init__'s fields, from one instance made once: it builds an empty
        # table per call (~0.1 ms, for every node at every step); these packets never fold.
        self.__dict__.update(_PACKETS_FIELDS)
        self._source = source
        self._present = present
        self._last = last
        self._running_ts = running_ts
        self._frozen: pa.Table | None = None
        self.counts = counts
        self.first_us = first_us
        self.version = next(_versions)

    @property
    def tag_names(self) -> list[str]:
        """User tag names of the node (those of every event read)."""
        return self._source.tag_names

    def fold(self, events: pa.Table) -> None:
        """Refused: an as-of view never takes newer events."""
        raise RuntimeError("packets as of a moment are read-only")

    def table(self) -> pa.Table:
        """The packets as of the moment, one row per packet (``PACKET_SCHEMA`` + tags)."""
        if self._frozen is None:
            self._frozen = self._source.packet_table(self._present, self._last, self._running_ts)
        return self._frozen


class FrozenLogs(NodeLogs):
    """A node's log rows up to a moment: the live node's rows stamped at or before it."""

    def __init__(self, live: NodeLogs, at_us: int) -> None:
        super().__init__()
        self._live = live
        self._at_us = at_us
        self._slice: pa.Table | None = None
        self._done = False
        self.rows = live.rows

    def table(self) -> pa.Table | None:
        """The rows up to the moment (lookups use them through :meth:`NodeLogs.lookup`)."""
        if not self._done:
            table = self._live.table()
            self._slice = None if table is None else _until(table, self._at_us)
            self._done = True
        return self._slice

    def add(self, rows: pa.Table) -> None:
        """Refused: an as-of view never takes newer rows."""
        raise RuntimeError("log rows as of a moment are read-only")


@dataclass
class _RunTimes:
    """One run's event times within one node, sorted, and its pipeline URI."""

    ts: np.ndarray
    uri: str


_EMPTY = np.empty(0, np.int64)
_EMPTY_F = np.empty(0, np.float64)
_RUNNING = int(State.RUNNING)
#: State code (``State``) → index into ``progress.STATES`` (RUNNING → "RUNNING", …).
_TIMES_CODE = np.array([STATES.index(s.name) for s in State], np.int8)
_T_RUNNING, _T_LOST = STATES.index("RUNNING"), STATES.index("LOST")
_T_DONE = np.array([s in ("SUCCESS", "FAILED", "CACHED") for s in STATES])
_T_COMPLETED = np.array([s in ("SUCCESS", "FAILED") for s in STATES])


@dataclass
class _NodeEvents:
    """A node's events (its :class:`EventHistory`) sorted by (packet, ts, prio, id).

    Only what every step needs is kept sorted (times, states, group bounds); a packet's key and
    tags come from the live packet table (its row ``live_pos``: tags never change), and the id
    and error of an event shown from the history's own table, by position.
    """

    pipeline: Pipeline
    identity: tuple[str, ...]
    live: NodePackets
    logs: NodeLogs
    raw: pa.Table  # the history's events (``id``, ``error``), in the order folded
    live_table: pa.Table  # the live packet table ``live_pos`` points into
    live_pos: pa.Array | None  # per packet, its row in ``live_table`` (None: packet j is row j)
    order: np.ndarray  # raw row of each sorted event
    ts: np.ndarray
    prio: np.ndarray
    state: np.ndarray
    running_upto: np.ndarray  # per event: its packet's latest RUNNING time up to it
    starts: np.ndarray  # first sorted event of each packet
    packet_run: np.ndarray  # run code of each packet
    run_names: list[str]
    runs: dict[str, _RunTimes]
    first_us: int | None
    newest_us: int = _MIN_INT64
    #: Per sorted event, the duration its packet shows when that event is its latest and
    #: terminal (``views.display_rows``' arithmetic; NaN where it shows none).
    dur: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    #: Every state code is one the triage knows (0…4): its figures can be read from here.
    fast: bool = True
    #: Last sorted event of each packet.
    ends: np.ndarray = field(default_factory=lambda: _EMPTY)
    #: Per sorted event, its state as an index into ``progress.STATES`` (LOST not derived).
    kind: np.ndarray = field(default_factory=lambda: _EMPTY)
    #: The SUCCESS / FAILED events with a duration shown (finite, ≥ 0), by duration: a
    #: moment's sorted durations are these, filtered (no sort per step).
    by_dur: np.ndarray = field(default_factory=lambda: _EMPTY)
    dur_sorted: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    tag_names: list[str] = field(default_factory=list)
    _final: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, pipeline: Pipeline, node: Node, uris: Mapping[str, str]) -> _NodeEvents:
        """A node's events sorted once (cached on its history until the history grows)."""
        history = node.packets.history
        if history is None:
            raise ValueError("the time cursor needs a monitor that keeps history")
        if history.cache is not None and history.cache[0] == history.version:
            cached: _NodeEvents = history.cache[1]
            if cached.logs is node.logs and cached.live is node.packets:
                return cached
        built = cls.build(pipeline, node, history.table(), uris)
        history.cache = (history.version, built)
        return built

    @classmethod
    def build(
        cls, pipeline: Pipeline, node: Node, raw: pa.Table, uris: Mapping[str, str]
    ) -> _NodeEvents:
        """Sort a node's events (:data:`event_history.COLUMNS`) once."""
        live_table = node.packets.table()
        n = raw.num_rows
        if n == 0:
            e8 = np.empty(0, np.int8)
            return cls(pipeline, node.identity, node.packets, node.logs, raw, live_table,
                       None, _EMPTY, _EMPTY, e8, e8, _EMPTY, _EMPTY, _EMPTY,
                       [], {}, None, tag_names=node.packets.tag_names)  # fmt: skip
        codes, keys = column_codes(raw.column("key"))
        live_pos = pc.index_in(keys, value_set=live_table.column("key"))
        # Normally every live packet is a key of the history and back: number the packets by
        # their live row, so a moment's packet table is the live one with a few columns swapped.
        aligned = live_pos.null_count == 0 and len(keys) == live_table.num_rows
        if aligned:
            codes = live_pos.to_numpy(zero_copy_only=False)[codes]
        raw_ts = raw.column("ts").to_numpy()
        prio = raw.column("prio").to_numpy()
        order = np.lexsort((prio, raw_ts, codes))
        sc, st, sp = codes[order], raw_ts[order], prio[order]
        ties = (sc[1:] == sc[:-1]) & (st[1:] == st[:-1]) & (sp[1:] == sp[:-1])
        if ties.any():  # same packet, time and kind: the event id decides, as in a fold
            keyed = pa.table(
                [pa.array(codes), raw.column("ts"), raw.column("prio"), raw.column("id")],
                names=["code", "ts", "prio", "id"],
            )
            order = pc.sort_indices(
                keyed, [(c, "ascending") for c in ("code", "ts", "prio", "id")]
            ).to_numpy()
            sc, st, sp = codes[order], raw_ts[order], prio[order]
        # Packets are sorted by code, and codes are 0…k-1: packet j is the dictionary's key j
        # (aligned: live row j).
        starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
        state = raw.column("state").to_numpy()[order]
        # Per event, the time of its packet's latest RUNNING event up to it (a step then reads
        # it at each packet's last event seen instead of reducing over every event).
        latest = np.maximum.accumulate(np.where(state == _RUNNING, np.arange(n), -1))
        group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
        running_upto = np.where(latest >= group_start, st[np.maximum(latest, 0)], _MIN_INT64)
        dur = _terminal_durations(st, running_upto)
        fast = bool(state.min() >= 0 and state.max() < len(_TIMES_CODE))
        kind = _TIMES_CODE[state] if fast else np.zeros(n, np.int8)
        with np.errstate(invalid="ignore"):
            counted = _T_COMPLETED[kind] & (dur >= 0) & np.isfinite(dur)
        by_dur = np.flatnonzero(counted)
        # (equal durations are equal floats, never NaN or -0.0: their order does not matter)
        by_dur = by_dur[np.argsort(dur[by_dur])]
        run_codes, run_values = column_codes(raw.column("run_id"))
        run_names = [str(r) for r in run_values.to_pylist()]
        by_run = np.argsort(run_codes, kind="stable")
        bounds = np.searchsorted(run_codes[by_run], np.arange(len(run_names) + 1))
        runs = {
            name: _RunTimes(
                np.sort(raw_ts[by_run[bounds[i] : bounds[i + 1]]]), uris.get(name, "") or ""
            )
            for i, name in enumerate(run_names)
        }
        return cls(
            pipeline=pipeline,
            identity=node.identity,
            live=node.packets,
            logs=node.logs,
            raw=raw.select(["id", "error"]),
            live_table=live_table,
            live_pos=None if aligned else live_pos,
            order=order,
            ts=st,
            prio=sp,
            state=state,
            running_upto=running_upto,
            starts=starts,
            packet_run=run_codes[order][starts].astype(np.int64),
            run_names=run_names,
            runs=runs,
            first_us=int(raw_ts.min()),
            newest_us=int(raw_ts.max()),
            dur=dur,
            fast=fast,
            ends=np.r_[starts[1:], n] - 1,
            kind=kind,
            by_dur=by_dur,
            dur_sorted=dur[by_dur],
            tag_names=node.packets.tag_names,
        )

    def packets_at(self, at_us: int) -> NodePackets:
        """The node's packets as of ``at_us``: per packet, its latest event at or before it.

        At or after the node's newest event that is the live packets themselves (so the views
        the live monitor has cached for the node apply: see :meth:`TimeCursor.monitor_at`).
        """
        if len(self.ts) == 0:
            return FrozenPackets(self, _EMPTY, _EMPTY, _EMPTY, Counter(), None)
        if at_us >= self.newest_us and self.live_pos is None:
            return self.live
        seen = self.ts <= at_us
        # Within a packet rows are sorted by time, so the events seen form a prefix of its group
        # (counted from a running sum: cheaper than np.add.reduceat).
        total = np.cumsum(seen)
        count = total[self.ends] - total[self.starts] + seen[self.starts]
        present = np.flatnonzero(count)
        last = self.starts[present] + count[present] - 1
        running_ts = self.running_upto[last]
        combined = self.packet_run[present] * 8 + self.state[last].astype(np.int64)
        bins = np.bincount(combined)
        counts = Counter(
            {(self.run_names[int(i) // 8], int(i) % 8): int(bins[i]) for i in np.flatnonzero(bins)}
        )
        first = self.first_us if self.first_us is not None and self.first_us <= at_us else None
        return FrozenPackets(self, present, last, running_ts, counts, first)

    def packet_table(
        self, present: np.ndarray, last: np.ndarray, running_ts: np.ndarray
    ) -> pa.Table:
        """Packet rows (``PACKET_SCHEMA`` + tags): packets ``present``, events ``last``.

        A packet's key, run and tags are its live row's; the rest is its event ``last``'s.
        """
        live = self.live_table
        every = len(present) == len(self.starts)
        if self.live_pos is None:
            base = live if every else live.take(from_numpy(present))
        else:
            base = live.take(self.live_pos.take(from_numpy(present)))
        ends = self.ends
        final = bool(np.array_equal(last, ends[present]))
        if final and every and self.live_pos is None:
            return live  # every packet at its newest event: the live table as it is
        if final:  # each packet's event shown is its newest: the live row's id and error
            ids, errors = base.column("id"), base.column("error")
        else:
            picked = self.raw.take(from_numpy(self.order[last]))
            ids, errors = picked.column("id"), picked.column("error")
        cols = {
            "ts": from_numpy(self.ts[last]),
            "prio": pa.array(self.prio[last], pa.int8()),
            "id": ids,
            "state": pa.array(self.state[last], pa.int8()),
            "running_ts": from_numpy(running_ts, null=running_ts == _MIN_INT64),
            "error": errors,
        }
        for name, col in cols.items():
            i = base.schema.get_field_index(name)
            base = base.set_column(i, pa.field(name, base.schema.field(i).type), col)
        return base

    def latest(self, packets: NodePackets) -> tuple[np.ndarray, np.ndarray]:
        """(packets present, the sorted event shown for each) of ``packets``: a moment's
        :class:`FrozenPackets` of this node, or the live packets (every event seen)."""
        if isinstance(packets, FrozenPackets):
            return packets._present, packets._last
        if self._final is None:
            self._final = (np.arange(len(self.starts), dtype=np.int64), self.ends)
        return self._final

    def times_in_run(
        self, present: np.ndarray, last: np.ndarray, run_id: str, lost: bool
    ) -> NodeTimes:
        """The :class:`NodeTimes` of the node's display rows in ``run_id`` (``lost``: the run is
        not live, its RUNNING packets are LOST) — exactly what ``progress.nodes_times`` reads
        from those rows (unordered: in packet order), from the sorted events alone."""
        code = self.run_names.index(run_id) if run_id in self.run_names else -1
        if code < 0:
            ev = _EMPTY
        elif len(self.run_names) == 1:
            ev = last  # (every packet is of the one run)
        else:
            ev = last[self.packet_run[present] == code]
        kind = self.kind[ev]
        if lost:
            kind[kind == _T_RUNNING] = _T_LOST
        counts = np.bincount(kind, minlength=len(STATES)).tolist()
        shown = np.zeros(len(self.ts), bool)
        shown[ev] = True
        # (a RUNNING packet's start is its own RUNNING event: always known)
        running_rows = np.flatnonzero(kind == _T_RUNNING)
        return NodeTimes(
            counts=dict(zip(STATES, counts, strict=True)),
            durations=self.dur_sorted[shown[self.by_dur]],
            done_ts_us=self.ts[ev[_T_DONE[kind]]],
            running_started_us=self.running_upto[ev[running_rows]],
            running_rows=running_rows,
        )

    def run_stats_at(self, at_us: int) -> list[tuple[str, int, int, int, str]]:
        """(run id, first µs, last µs, events, uri) of each run with events at or before it."""
        out = []
        for name, times in self.runs.items():
            n = int(np.searchsorted(times.ts, at_us, "right"))
            if n:
                out.append((name, int(times.ts[0]), int(times.ts[n - 1]), n, times.uri))
        return out


def _terminal_durations(ts: np.ndarray, running_ts: np.ndarray) -> np.ndarray:
    """Per event, the ``duration_s`` a display row shows for a terminal packet whose latest
    event it is (``views._durations``' very operations; NaN for null)."""
    started = running_ts != _MIN_INT64
    start_s = np.where(started, running_ts, 0).astype(np.float64) / 1e6
    end_s = ts.astype(np.float64) / 1e6
    duration = np.where(started, np.fmax(end_s - start_s, 0.0), 0.0)
    duration[duration > MAX_DURATION_S] = np.nan
    return duration


def cursor_triage(
    monitor: AsOfMonitor,
    model: PipelineModel,
    run_id: str,
    verdicts: Mapping[str, Verdict],
) -> dict[NodeKey, NodeTriage]:
    """:meth:`Monitor.triage` of a time-cursor moment, from the cursor's sorted events.

    The same rules (previous run, declared totals, the earlier run's durations for nodes with
    too few of their own, the slow bound) and the same cache (``Monitor._triage_cache``, keyed
    as there: a node whose packets did not change keeps its figures); only the per-node
    :class:`NodeTimes` are read from the events instead of from display rows.
    """
    plan = monitor.triage_plan(model.name, run_id, verdicts)
    prev, prev_lost, lost = plan.prev, plan.prev_lost, plan.lost
    out = dict(plan.cached)
    for node, stamp, declared, prev_count in plan.stale:
        src, packets = monitor.cursor_nodes[node.key]
        present, last = src.latest(packets)
        times = src.times_in_run(present, last, run_id, lost)
        history = None
        if prev is not None and len(times.durations) < MIN_PEERS_FOR_BOUND:
            history = src.times_in_run(present, last, prev, prev_lost)
        t = NodeTriage(
            times=times,
            declared=declared,
            previous_count=prev_count,
            history=history,
            bound=node_bound(times, history.durations if history is not None else None),
        )
        monitor._triage_cache[node.key] = (stamp, t)
        out[node.key] = t
    return out


class TimeCursor:
    """A root's events as a live :class:`Monitor` folded them, ready for any moment.

    Built from a monitor that keeps history (``Monitor.keep_history``: the app's live monitor),
    with no second read of the store: each node's events are sorted once (and again only when
    the node has new events); then :meth:`monitor_at` gives an :class:`AsOfMonitor` for any
    moment without re-folding, and :meth:`step_event` / :meth:`step` move a moment by event or
    by a duration. Use it on the monitor's thread (the one that refreshes it).
    """

    def __init__(self, monitor: Monitor, previous: TimeCursor | None = None) -> None:
        """Sort ``monitor``'s events (a node's only when it has new ones). ``previous``: the
        cursor this one replaces (the live monitor read more): the last moment's packets of the
        nodes with no new events are kept, so the next step reuses them."""
        self.root = monitor.root
        self.stale_after = monitor.stale_after
        self.this_host = monitor.this_host
        self.jobs = monitor.jobs
        #: The monitor's data version the cursor was built at (rebuild when it moved on).
        self.version = monitor.version
        self.nodes: list[_NodeEvents] = []
        for name, model in monitor.pipelines.items():
            uris = {r: s.pipeline_uri for r, s in model.runs.items()}
            self.nodes.extend(_NodeEvents.of(name, node, uris) for node in model.nodes.values())
        self.writers = {
            name: {run: dict(ws) for run, ws in model.writers.items()}
            for name, model in monitor.pipelines.items()
            if model.writers
        }
        self.warnings = {k: list(v) for k, v in monitor.warnings.items()}
        self.problems: list[str] = []
        # The last moment's packets per node (with how many events they had seen) and monitor:
        # a step reuses the nodes it did not change.
        self._shown: dict[tuple[Pipeline, tuple[str, ...]], tuple[int, NodePackets]] = {}
        self._previous: AsOfMonitor | None = None
        self._live = monitor
        if previous is not None:
            was = {(n.pipeline, n.identity): n for n in previous.nodes}
            same = {
                (n.pipeline, n.identity)
                for n in self.nodes
                if was.get((n.pipeline, n.identity)) is n
            }
            self._shown = {k: v for k, v in previous._shown.items() if k in same}
            self._previous = previous._previous  # (its views are keyed by packets version)
        # Each run's times are sorted already: a stable sort (timsort) merges those runs.
        stamps = [r.ts for n in self.nodes for r in n.runs.values() if len(r.ts)]
        times = np.sort(np.concatenate(stamps), kind="stable") if stamps else _EMPTY
        # (numpy 2's np.unique hashes: seconds on 2 M stamps; a sort and a mask is ~20× faster)
        self.times = times[np.r_[True, times[1:] != times[:-1]]] if len(times) else times

    @classmethod
    def load(
        cls,
        root: Path,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Iterable[Path] = (),
        this_host: str = THIS_HOST,
    ) -> TimeCursor:
        """Read the whole root once (``RootError`` if it cannot be read at all)."""
        monitor = Monitor(root, stale_after=stale_after, job_files=job_files, this_host=this_host)
        monitor.keep_history = True
        result = monitor.refresh()
        cursor = cls(monitor)
        cursor.problems = list(result.problems)
        return cursor

    @property
    def span(self) -> tuple[float, float] | None:
        """The first and last event times (epoch seconds), or None without events."""
        if len(self.times) == 0:
            return None
        return self.times[0] / 1e6, self.times[-1] / 1e6

    def step_event(self, at: float, direction: int) -> float:
        """The moment of the next (``direction`` > 0) or previous distinct event; stays put at
        either end."""
        at_us = to_us(at)
        if len(self.times) == 0:
            return at
        if direction > 0:
            i = int(np.searchsorted(self.times, at_us, "right"))
            return self.times[i] / 1e6 if i < len(self.times) else at
        i = int(np.searchsorted(self.times, at_us, "left")) - 1
        return self.times[i] / 1e6 if i >= 0 else at

    @staticmethod
    def step(at: float, seconds: float) -> float:
        """``at`` moved by ``seconds`` (negative: back)."""
        return at + seconds

    def monitor_at(self, at: float) -> AsOfMonitor:
        """The whole root as of ``at``: an :class:`AsOfMonitor`, ready for its views."""
        at_us = to_us(at)
        monitor = AsOfMonitor(self.root, at, stale_after=self.stale_after, this_host=self.this_host)
        monitor.jobs = self.jobs
        shown: dict[tuple[Pipeline, tuple[str, ...]], tuple[int, NodePackets]] = {}
        for src in self.nodes:
            model = monitor.pipelines.get(src.pipeline)
            if model is None:
                model = monitor.pipelines[src.pipeline] = PipelineModel(src.pipeline)
            stats_at = src.run_stats_at(at_us)
            seen = sum(n for _, _, _, n, _ in stats_at)
            # The same events seen as at the last moment: the same packets (and the monitor's
            # per-node caches, keyed by their version, stay valid).
            was = self._shown.get((src.pipeline, src.identity))
            packets = was[1] if was is not None and was[0] == seen else src.packets_at(at_us)
            shown[(src.pipeline, src.identity)] = (seen, packets)
            model.nodes[src.identity] = Node(
                src.pipeline, src.identity, packets, FrozenLogs(src.logs, at_us)
            )
            monitor.cursor_nodes[(src.pipeline, src.identity)] = (src, packets)
            for run_id, lo, hi, n, uri in stats_at:
                stats = model.runs.get(run_id)
                if stats is None:
                    model.runs[run_id] = RunStats(run_id, lo, hi, n, uri)
                else:
                    stats.absorb(lo, hi, n)
        self._shown = shown
        for pipeline, runs in self.writers.items():
            for run_id, writers in runs.items():
                kept = {}
                for key, rec in writers.items():
                    wound, alive_later = wind_back(rec, at)
                    if wound is None:
                        continue
                    kept[key] = wound
                    if alive_later:
                        monitor.alive_later.add((pipeline, run_id))
                if kept:
                    model = monitor.pipelines.get(pipeline)
                    if model is None:
                        model = monitor.pipelines[pipeline] = PipelineModel(pipeline)
                    model.writers[run_id] = kept
                    model.records[run_id] = merge_records(list(kept.values()))
        monitor.warnings = {k: list(v) for k, v in self.warnings.items()}
        monitor.reuse_views(self._live)  # nodes with no event after the moment: live views
        if self._previous is not None:
            monitor.reuse_views(self._previous)
        self._previous = monitor
        return monitor
