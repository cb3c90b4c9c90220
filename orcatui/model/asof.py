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

from orcatui.model.keys import packet_keys
from orcatui.model.logs import NodeLogs
from orcatui.model.monitor import Monitor, Node, PipelineModel
from orcatui.model.packets import NodePackets, events_to_packet_rows
from orcatui.model.runs import DEFAULT_STALE_AFTER_S, THIS_HOST, RunRecord, RunStats, Verdict
from orcatui.model.states import State
from orcatui.store.files import concat_normalised
from orcatui.store.schema import EVENT_SCHEMA, TAG_PREFIX
from orcatui.store.store import Store, StoreUpdate

Pipeline = tuple[str, ...]
_MIN_INT64 = np.iinfo(np.int64).min
#: Appended to the reason of a run judged live because its record shows life after ``T``.
ALIVE_LATER = "alive then: its record shows a heartbeat after this moment"
_versions = itertools.count(1)


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
        root: Path,
        at: float,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Iterable[Path] = (),
        this_host: str = THIS_HOST,
    ) -> None:
        super().__init__(
            root,
            stale_after=stale_after,
            job_files=job_files,
            clock=lambda: at,
            this_host=this_host,
            check_process=False,  # whether a process ran at T cannot be known now
            until_us=to_us(at),  # rows after T are dropped as they are folded
        )
        self.at = at
        self.alive_later: set[tuple[Pipeline, str]] = set()

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


def load_as_of(
    root: Path,
    at: float,
    *,
    stale_after: float = DEFAULT_STALE_AFTER_S,
    job_files: Iterable[Path] = (),
    this_host: str = THIS_HOST,
) -> tuple[AsOfMonitor, list[str]]:
    """Read ``root`` once and fold only what the store held at ``at`` (``summary --at``).

    Returns the monitor and the one-line problems met while reading (as ``refresh`` does).
    Raises ``RootError`` when the root cannot be read at all.
    """
    monitor = AsOfMonitor(
        root, at, stale_after=stale_after, job_files=job_files, this_host=this_host
    )
    # Each table's rows are folded in its reading thread, minus those after ``at`` (the
    # monitor's ``until_us``): the threaded cold load, never all raw events at once.
    update = monitor.store.poll(consume=monitor._consume)
    filtered, alive = filter_update(update, at)
    monitor.alive_later = alive
    monitor.apply(filtered)
    return monitor, list(update.problems)


# -- many moments: the time cursor ---------------------------------------------------------------
class FrozenPackets(NodePackets):
    """A node's packets as of a moment, computed by :class:`TimeCursor` (read-only).

    ``counts`` and ``first_us`` are set at once (the tree needs them); the packet table is
    materialised on first use (only the nodes whose rows are shown pay for it).
    """

    def __init__(
        self,
        source: _NodeEvents,
        last: np.ndarray,
        running_ts: np.ndarray,
        counts: Counter[tuple[str, int]],
        first_us: int | None,
    ) -> None:
        super().__init__()
        self._source = source
        self._last = last
        self._running_ts = running_ts
        self._frozen: pa.Table | None = None
        self.counts = counts
        self.first_us = first_us
        self.version = next(_versions)

    @property
    def tag_names(self) -> list[str]:
        """User tag names of the node (as of the moment, those of every event read)."""
        return list(self._source.tag_names)

    def fold(self, events: pa.Table) -> None:
        """Refused: an as-of view never takes newer events."""
        raise RuntimeError("packets as of a moment are read-only")

    def table(self) -> pa.Table:
        """The packets as of the moment, one row per packet (``PACKET_SCHEMA`` + tags)."""
        if self._frozen is None:
            rows = self._source.rows.take(pa.array(self._last))
            rts = self._running_ts
            col = pa.array(rts, pa.int64(), mask=rts == _MIN_INT64)
            i = rows.schema.get_field_index("running_ts")
            self._frozen = rows.set_column(i, "running_ts", col)
        return self._frozen


class FrozenLogs(NodeLogs):
    """A node's log rows up to a moment: a zero-copy slice of rows sorted by time."""

    def __init__(self, table: pa.Table | None) -> None:
        super().__init__()
        self._slice = table
        self.rows = 0 if table is None else table.num_rows

    def table(self) -> pa.Table | None:
        """The rows up to the moment (lookups use them through :meth:`NodeLogs.lookup`)."""
        return self._slice

    def add(self, rows: pa.Table) -> None:
        """Refused: an as-of view never takes newer rows."""
        raise RuntimeError("log rows as of a moment are read-only")


@dataclass
class _RunTimes:
    """One run's event times within one node, sorted, and its pipeline URI."""

    ts: np.ndarray
    uri: str


@dataclass
class _NodeEvents:
    """A node's raw events as packet rows sorted by (packet, ts, prio, id), with group bounds."""

    pipeline: Pipeline
    identity: tuple[str, ...]
    rows: pa.Table  # packet rows (events_to_packet_rows), in sorted order
    ts: np.ndarray
    is_running: np.ndarray
    state: np.ndarray
    starts: np.ndarray  # first row of each packet
    packet_run: np.ndarray  # run code of each packet
    run_names: list[str]
    runs: dict[str, _RunTimes]
    tag_names: list[str]
    first_us: int | None
    logs: pa.Table | None  # log rows with their packet key, sorted by ts
    log_ts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @classmethod
    def build(
        cls, pipeline: Pipeline, identity: tuple[str, ...], events: pa.Table | None, logs
    ) -> _NodeEvents:
        """Sort a node's events once; ``logs`` are its normalised log rows (or None)."""
        if events is None or events.num_rows == 0:
            events = None
            rows = events_to_packet_rows(EVENT_SCHEMA.empty_table())
            order = np.empty(0, np.int64)
            codes = np.empty(0, np.int64)
        else:
            rows = events_to_packet_rows(events)
            enc = pc.dictionary_encode(rows.column("key")).combine_chunks()
            codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            ts = rows.column("ts").to_numpy()
            prio = rows.column("prio").to_numpy()
            order = np.lexsort((prio, ts, codes))
            sc, st, sp = codes[order], ts[order], prio[order]
            ties = (sc[1:] == sc[:-1]) & (st[1:] == st[:-1]) & (sp[1:] == sp[:-1])
            if ties.any():  # same packet, time and kind: the event id decides, as in a fold
                order = pc.sort_indices(
                    rows.append_column("_code", pa.array(codes)),
                    [
                        ("_code", "ascending"),
                        ("ts", "ascending"),
                        ("prio", "ascending"),
                        ("id", "ascending"),
                    ],
                ).to_numpy()
            rows = rows.take(pa.array(order))
            codes = codes[order]
        n = rows.num_rows
        ts = rows.column("ts").to_numpy() if n else np.empty(0, np.int64)
        state = rows.column("state").to_numpy() if n else np.empty(0, np.int8)
        is_running = state == int(State.RUNNING)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if n else codes
        run_enc = pc.dictionary_encode(rows.column("run_id")).combine_chunks()
        run_names = [str(r) for r in run_enc.dictionary.to_pylist()]
        run_codes = run_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        runs: dict[str, _RunTimes] = {}
        uris = events.column("pipeline_uri") if events is not None and n else None
        for i, name in enumerate(run_names):
            sel = np.flatnonzero(run_codes == i)
            first = int(order[sel[np.argmin(ts[sel])]]) if len(sel) else 0
            uri = uris[first].as_py() if uris is not None else ""
            runs[name] = _RunTimes(np.sort(ts[sel]), uri or "")
        tag_names = [c[len(TAG_PREFIX) :] for c in rows.column_names if c.startswith(TAG_PREFIX)]
        log_table, log_ts = None, np.empty(0, np.int64)
        if logs is not None and logs.num_rows:
            keyed = logs.append_column("key", packet_keys(logs))
            keyed = keyed.filter(pc.is_valid(keyed.column("ts")))
            keyed = keyed.take(pc.sort_indices(keyed.column("ts")))
            log_table, log_ts = keyed, keyed.column("ts").to_numpy()
        return cls(
            pipeline=pipeline,
            identity=identity,
            rows=rows,
            ts=ts,
            is_running=is_running,
            state=state,
            starts=starts,
            packet_run=run_codes[starts] if n else np.empty(0, np.int64),
            run_names=run_names,
            runs=runs,
            tag_names=tag_names,
            first_us=int(ts.min()) if n else None,
            logs=log_table,
            log_ts=log_ts,
        )

    def packets_at(self, at_us: int) -> FrozenPackets:
        """The node's packets as of ``at_us``: per packet, its latest event at or before it."""
        if len(self.ts) == 0:
            return FrozenPackets(
                self, np.empty(0, np.int64), np.empty(0, np.int64), Counter(), None
            )
        seen = self.ts <= at_us
        # Within a packet rows are sorted by time, so the events seen form a prefix of its group.
        count = np.add.reduceat(seen.astype(np.int64), self.starts)
        present = count > 0
        last = (self.starts + count - 1)[present]
        running = np.where(seen & self.is_running, self.ts, _MIN_INT64)
        running_ts = np.maximum.reduceat(running, self.starts)[present]
        combined = self.packet_run[present] * 8 + self.state[last].astype(np.int64)
        bins = np.bincount(combined)
        counts = Counter(
            {(self.run_names[int(i) // 8], int(i) % 8): int(bins[i]) for i in np.flatnonzero(bins)}
        )
        first = self.first_us if self.first_us is not None and self.first_us <= at_us else None
        return FrozenPackets(self, last, running_ts, counts, first)

    def logs_at(self, at_us: int) -> FrozenLogs:
        """The node's log rows stamped at or before ``at_us``."""
        if self.logs is None:
            return FrozenLogs(None)
        return FrozenLogs(self.logs.slice(0, int(np.searchsorted(self.log_ts, at_us, "right"))))

    def run_stats_at(self, at_us: int) -> list[tuple[str, int, int, int, str]]:
        """(run id, first µs, last µs, events, uri) of each run with events at or before it."""
        out = []
        for name, times in self.runs.items():
            n = int(np.searchsorted(times.ts, at_us, "right"))
            if n:
                out.append((name, int(times.ts[0]), int(times.ts[n - 1]), n, times.uri))
        return out


class TimeCursor:
    """A root's events kept in memory so the state as of any moment is quick to compute.

    Built once from one full read of the store (:meth:`load`, about a cold load's cost); then
    :meth:`monitor_at` gives an :class:`AsOfMonitor` for any moment without re-folding, and
    :meth:`step_event` / :meth:`step` move a moment by event or by a duration.
    """

    def __init__(
        self,
        root: Path,
        update: StoreUpdate,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Iterable[Path] = (),
        this_host: str = THIS_HOST,
    ) -> None:
        self.root = root
        self.stale_after = stale_after
        self.job_files = list(job_files)
        self.this_host = this_host
        status: dict[tuple[Pipeline, tuple[str, ...]], list[pa.Table]] = {}
        logs: dict[tuple[Pipeline, tuple[str, ...]], list[pa.Table]] = {}
        for ref in update.new_tables:
            status.setdefault((ref.pipeline, ref.identity), [])
        for ref, table in update.status:
            status.setdefault((ref.pipeline, ref.identity), []).append(table)
        for ref, table in update.logs:
            status.setdefault((ref.pipeline, ref.identity), [])
            logs.setdefault((ref.pipeline, ref.identity), []).append(table)
        self.nodes = [
            _NodeEvents.build(
                p, i, concat_normalised(tables), concat_normalised(logs.get((p, i), []))
            )
            for (p, i), tables in status.items()
        ]
        self.records = {p: list(r) for p, r in update.run_records.items()}
        self.problems = list(update.problems)
        stamps = [n.ts for n in self.nodes if len(n.ts)]
        self.times = np.unique(np.concatenate(stamps)) if stamps else np.empty(0, np.int64)

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
        update = Store(root).poll(consume=None)
        return cls(root, update, stale_after=stale_after, job_files=job_files, this_host=this_host)

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
        monitor = AsOfMonitor(
            self.root,
            at,
            stale_after=self.stale_after,
            job_files=self.job_files,
            this_host=self.this_host,
        )
        for src in self.nodes:
            model = monitor.pipelines.get(src.pipeline)
            if model is None:
                model = monitor.pipelines[src.pipeline] = PipelineModel(src.pipeline)
            node = Node(src.pipeline, src.identity, src.packets_at(at_us), src.logs_at(at_us))
            model.nodes[src.identity] = node
            for run_id, lo, hi, n, uri in src.run_stats_at(at_us):
                stats = model.runs.get(run_id)
                if stats is None:
                    model.runs[run_id] = RunStats(run_id, lo, hi, n, uri)
                else:
                    stats.absorb(lo, hi, n)
        records = StoreUpdate()
        for pipeline, datas in self.records.items():
            for data in datas:
                wound = record_as_of(data, at)
                if wound.data is None:
                    continue
                records.run_records.setdefault(pipeline, []).append(wound.data)
                if wound.alive_later:
                    monitor.alive_later.add((pipeline, str(wound.data.get("run_id"))))
        monitor.apply(records)
        return monitor
