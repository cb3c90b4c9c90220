"""The monitor's model of a root: pipelines, runs, nodes and packets, folded from a :class:`Store`.

:meth:`Monitor.refresh` reads what is new on disk and folds it (run it off the UI thread);
:meth:`Monitor.snapshot` and :meth:`Monitor.packet_rows` are views at a given time. The CLI summary
and the TUI both read the model through these methods, so each rule has one implementation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.durations import format_age
from orcatui.model.event_history import EventHistory
from orcatui.model.logs import LogRow, NodeLogs
from orcatui.model.naming import (
    JobLabels,
    NodeName,
    labels_from_job,
    labels_from_run_records,
    node_name,
    pipeline_name_parts,
)
from orcatui.model.packets import NodePackets, from_numpy, only_run, packet_rows_of
from orcatui.model.progress import (
    NodeTimes,
    Progress,
    SortedDurations,
    node_progress,
    nodes_times,
    packets_times,
    previous_run,
    run_progress,
)
from orcatui.model.runs import (
    DEFAULT_STALE_AFTER_S,
    THIS_HOST,
    Liveness,
    RunRecord,
    RunStats,
    Verdict,
    clock_warning,
    judge_writers,
    last_sign_of_life,
    lost_reasons,
    merge_records,
)
from orcatui.model.slow import MIN_PEERS as MIN_PEERS_FOR_BOUND
from orcatui.model.slow import SlowBound, earlier_durations, nodes_bounds
from orcatui.model.states import SHOWN_STATES, State
from orcatui.model.views import (
    ROW_COLUMNS,
    View,
    count_states,
    display_rows,
    display_rows_many,
    display_tag_name,
    order_rows,
    packets_for_view,
)
from orcatui.store.discovery import TableKind, TableRef
from orcatui.store.store import RootError, SplitConsumer, StoreUpdate, open_store

Pipeline = tuple[str, ...]
Identity = tuple[str, ...]
NodeKey = tuple[Pipeline, Identity]


class Prepared(NamedTuple):
    """One table's new rows made ready to fold (:meth:`Monitor._prepare`): status rows as packet
    rows with their events' earliest time and per-run aggregates; log rows as they are."""

    rows: pa.Table
    first_us: int | None
    runs: list[tuple[str, int, int, int, str]]


@dataclass
class Node:
    """One pipeline node: its folded packets and its log rows."""

    pipeline: Pipeline
    identity: Identity
    packets: NodePackets = field(default_factory=NodePackets)
    logs: NodeLogs = field(default_factory=NodeLogs)

    @property
    def key(self) -> NodeKey:
        """(pipeline, identity)."""
        return (self.pipeline, self.identity)


@dataclass
class PipelineModel:
    """One pipeline's runs and nodes."""

    name: Pipeline
    nodes: dict[Identity, Node] = field(default_factory=dict)
    runs: dict[str, RunStats] = field(default_factory=dict)
    #: run id → the run's writers' records merged (see :func:`runs.merge_records`).
    records: dict[str, RunRecord] = field(default_factory=dict)
    #: run id → writer key (the record file) → that writer's record.
    writers: dict[str, dict[str, RunRecord]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    """A run as shown: its liveness verdict, times and packet counts over all nodes."""

    run_id: str
    verdict: Verdict
    started: float | None  # epoch seconds
    last_event: float | None
    ended: float | None
    outcome: str | None
    counts: dict[str, int]
    has_record: bool


@dataclass(frozen=True)
class NodeInfo:
    """A node as shown in the tree, with its counts in the current view."""

    key: NodeKey
    name: NodeName
    counts: dict[str, int]
    tags: tuple[str, ...]
    #: Progress and ETA in the shown run (None in the all-runs view).
    progress: Progress | None = None
    #: RUNNING packets flagged slow now (see :mod:`orcatui.model.slow`).
    slow: int = 0
    #: The node's slow bound (None: not enough completed peers).
    slow_bound: SlowBound | None = None


@dataclass(frozen=True)
class NodeTriage:
    """What progress, ETA and slow flags need of one node in one run (cached per data version)."""

    times: NodeTimes
    declared: int | None
    previous_count: int | None
    history: NodeTimes | None  # the previous ended run's, for the typical duration
    bound: SlowBound | None


@dataclass(frozen=True)
class PipelineInfo:
    """A pipeline in a view: its selected run, all runs (newest first), nodes."""

    name: Pipeline
    view: View
    run: RunInfo | None
    runs: tuple[RunInfo, ...]
    nodes: tuple[NodeInfo, ...]
    counts: dict[str, int]
    #: Every run's liveness, judged once for this snapshot (the summary uses the same).
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    #: The pipeline's name parts as shown (never empty: see ``naming.pipeline_name_parts``).
    title: tuple[str, ...] = ()
    #: The shown run's progress and ETA over its nodes (None in the all-runs view).
    progress: Progress | None = None

    @property
    def display_name(self) -> str:
        """The pipeline's name as shown (``title`` joined by ``/``)."""
        return "/".join(self.title or self.name)


@dataclass(frozen=True)
class Snapshot:
    """The whole root at one moment, as the summary and the tree show it."""

    root: Path | str
    now: float
    pipelines: tuple[PipelineInfo, ...]
    broken: dict[str, str]
    version: int
    #: Problems with values read (bad run-record fields, …), one line each, newest state.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh changed."""

    changed: bool
    problems: list[str]
    new_tables: list[TableRef]


@dataclass(frozen=True)
class PacketDetails:
    """Everything known about one packet: its row and its log row, if any."""

    node: NodeKey
    row: dict
    log: LogRow | None


def _as_of_last_read(verdict: Verdict, blind_s: float) -> Verdict:
    """A verdict reached at the last read of the root, said to be that old."""
    if verdict.liveness is Liveness.ENDED:
        return verdict
    return replace(
        verdict,
        reason=f"{verdict.reason} (as of {format_age(blind_s)} ago: the root cannot be read since)",
    )


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(SHOWN_STATES, 0)


@dataclass
class TriagePlan:
    """See :meth:`Monitor.triage_plan`: ``stale`` holds (node, cache key, declared total,
    previous run's count) of the nodes whose figures must be computed again."""

    prev: str | None
    lost: bool
    prev_lost: bool
    cached: dict[NodeKey, NodeTriage]
    stale: list[tuple[Node, tuple, int | None, int | None]]


class Monitor:
    """The model of one root, kept up to date by :meth:`refresh`."""

    def __init__(
        self,
        root: Path | str,
        *,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Iterable[Path] = (),
        clock: Callable[[], float] = time.time,
        this_host: str = THIS_HOST,
        check_process: bool = True,
        until_us: int | None = None,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        #: The root as given: a local ``Path``, or an object-storage URL (``s3://…``).
        self.root = root
        #: When set, status and log rows stamped after it are dropped as they are folded
        #: (``summary --at``: the threaded cold load, minus the future).
        self.until_us = until_us
        #: ``Store`` or ``RemoteStore`` (same interface), by :func:`store.open_store`.
        self.store = open_store(root, storage_options, clock=clock)
        self.stale_after = stale_after
        self.clock = clock
        self.this_host = this_host
        self.check_process = check_process
        #: Keep every folded event per node (the app's time cursor; set before the first read).
        self.keep_history = False
        self.pipelines: dict[Pipeline, PipelineModel] = {}
        self.jobs = JobLabels()
        for job in job_files:
            self.jobs.add(labels_from_job(job))
        self.warnings: dict[str, list[str]] = {}  # record path → its problems
        #: The reader's clock at the last read of the root that worked, and whether the latest
        #: attempt failed (then runs are judged as of ``read_at``: see :meth:`verdicts`).
        self.read_at: float | None = None
        self.unread = False
        self.version = 0
        self._lock = threading.Lock()
        # node → ((packets version, all runs, run id), its packets in that view, ordered)
        self._rows_cache: dict[NodeKey, tuple[tuple, pa.Table]] = {}
        # node → (stamp, its triage inputs): recomputed only when the node's data changes
        self._triage_cache: dict[NodeKey, tuple[tuple, NodeTriage]] = {}
        # (node, run) → its sorted completed durations: a change sorts only the new ones
        self._sorted_durations = SortedDurations()
        # node → (its last display-row request, the rows): the same request twice in a row
        self._display_memo: dict[NodeKey, tuple[tuple, pa.Table]] = {}

    # -- reading ------------------------------------------------------------------------------
    def refresh(self, *, only: set[Path] | None = None, rediscover: bool = True) -> RefreshResult:
        """Read what is new under the root and fold it in; ``RootError`` if the root is gone."""
        consume = self._consume if self.keep_history else SplitConsumer(self._prepare, self._apply)
        try:
            update = self.store.poll(rediscover=rediscover, only=only, consume=consume)
        except RootError:
            self.unread = True
            raise
        self.unread = False
        self.read_at = self.clock()
        self.apply(update)
        return RefreshResult(not update.empty, update.problems, update.new_tables)

    def _consume(self, ref: TableRef, rows: pa.Table) -> None:
        """Fold one table's new rows, in the store's reading thread (one thread per table)."""
        with self._lock:
            node = self._node(ref.pipeline, ref.identity)
        rows = self._until(rows)
        if rows.num_rows == 0:
            return
        if ref.kind is TableKind.STATUS:
            node.packets.fold(rows)
            runs = _run_aggregates(rows)
            with self._lock:
                self._merge_runs(self.pipelines[ref.pipeline], runs)
        else:
            node.logs.add(rows)

    def _prepare(self, ref: TableRef, rows: pa.Table) -> Prepared:
        """The first half of :meth:`_consume` (without history): what the rows fold to,
        computed from the rows alone — it may run in a helper process of the store."""
        rows = self._until(rows)
        if ref.kind is not TableKind.STATUS or rows.num_rows == 0:
            return Prepared(rows, None, [])
        packets, lo = packet_rows_of(rows)
        return Prepared(packets, lo, _run_aggregates(rows))

    def _apply(self, ref: TableRef, prepared: Prepared) -> None:
        """The second half of :meth:`_consume`: fold what :meth:`_prepare` made into the node."""
        with self._lock:
            node = self._node(ref.pipeline, ref.identity)
        if prepared.rows.num_rows == 0:
            return
        if ref.kind is TableKind.STATUS:
            node.packets.fold_packet_rows(prepared.rows, prepared.first_us)
            with self._lock:
                self._merge_runs(self.pipelines[ref.pipeline], prepared.runs)
        else:
            node.logs.add(prepared.rows)

    def apply(self, update: StoreUpdate) -> None:
        """Fold a store update into the model."""
        for ref in update.new_tables:
            self._node(ref.pipeline, ref.identity)
        for ref, events in update.status:
            node = self._node(ref.pipeline, ref.identity)
            events = self._until(events)
            if events.num_rows == 0:
                continue
            node.packets.fold(events)
            self._merge_runs(self.pipelines[ref.pipeline], _run_aggregates(events))
        for ref, rows in update.logs:
            node = self._node(ref.pipeline, ref.identity)
            rows = self._until(rows)
            if rows.num_rows:
                node.logs.add(rows)
        for pipeline, records in update.run_records.items():
            model = self._pipeline(pipeline)
            touched = set()
            for data in records:
                where = data.get("_record_path") if isinstance(data, dict) else None
                try:
                    rec = RunRecord.from_json(data)
                except (ValueError, TypeError) as exc:
                    msg = f"{where or 'run record'}: {exc}; ignored"
                    self.warnings[str(where)] = [msg]
                    update.problems.append(msg)
                    continue
                key = rec.writer_key
                self.warnings.pop(key, None)
                if rec.problems:
                    self.warnings[key or rec.run_id] = list(rec.problems)
                    update.problems.extend(rec.problems)
                model.writers.setdefault(rec.run_id, {})[key] = rec
                touched.add(rec.run_id)
            for run_id in touched:
                model.records[run_id] = merge_records(list(model.writers[run_id].values()))
        if not update.empty:
            self.version += 1

    def _until(self, rows: pa.Table) -> pa.Table:
        """``rows`` without those stamped after ``until_us`` (or unstamped, then)."""
        if self.until_us is None or "ts" not in rows.column_names:
            return rows
        keep = pc.fill_null(pc.less_equal(rows.column("ts"), self.until_us), False)
        return rows.filter(keep)

    def _pipeline(self, name: Pipeline) -> PipelineModel:
        model = self.pipelines.get(name)
        if model is None:
            model = self.pipelines[name] = PipelineModel(name)
        return model

    def _node(self, pipeline: Pipeline, identity: Identity) -> Node:
        model = self._pipeline(pipeline)
        node = model.nodes.get(identity)
        if node is None:
            node = model.nodes[identity] = Node(pipeline, identity)
            if self.keep_history:
                node.packets.history = EventHistory()
        return node

    @staticmethod
    def _merge_runs(model: PipelineModel, runs: list[tuple[str, int, int, int, str]]) -> None:
        for run_id, lo, hi, n, uri in runs:
            stats = model.runs.get(run_id)
            if stats is None:
                model.runs[run_id] = RunStats(run_id, lo, hi, n, uri or "")
            else:
                stats.absorb(lo, hi, n)

    # -- rules applied ------------------------------------------------------------------------
    def verdicts(self, pipeline: Pipeline, now: float | None = None) -> dict[str, Verdict]:
        """Liveness of every run of a pipeline (docs/design.md §5).

        While the root cannot be read (an endpoint down, a mount gone), runs are judged as of
        the last moment it could be: a heartbeat the reader could not look at is no sign of death.
        """
        now = self.clock() if now is None else now
        blind_since = self.read_at if self.unread else None
        if blind_since is not None and blind_since < now:
            return {
                run_id: _as_of_last_read(verdict, now - blind_since)
                for run_id, verdict in self.verdicts(pipeline, now=blind_since).items()
            }
        model = self.pipelines[pipeline]
        starts = {r: self._started(model, r) for r in self._run_ids(model)}
        newest_start = max((s for s in starts.values() if s is not None), default=None)
        out = {}
        for run_id, start in starts.items():
            newer = newest_start is not None and start is not None and start < newest_start
            stats = model.runs.get(run_id)
            verdict = judge_writers(
                stats,
                list(model.writers.get(run_id, {}).values()),
                now=now,
                stale_after=self.stale_after,
                newer_run_start=newest_start if newer else None,
                this_host=self.this_host,
                check_process=self.check_process,
            )
            if not verdict.live:
                last = last_sign_of_life(stats, model.records.get(run_id), now)
                verdict = replace(verdict, stopped_at=last)
            out[run_id] = verdict
        return out

    def clock_warnings(self) -> list[str]:
        """One line per writer whose clock is off the object store's by more than a few
        seconds (remote run records only; see :func:`runs.clock_warning`). Not unreadable
        data: shown as warnings, never part of an exit code."""
        out = []
        for model in self.pipelines.values():
            for writers in model.writers.values():
                out.extend(w for w in map(clock_warning, writers.values()) if w is not None)
        return sorted(out)

    @staticmethod
    def _run_ids(model: PipelineModel) -> list[str]:
        return list(dict.fromkeys([*model.runs, *model.records]))

    @staticmethod
    def _started(model: PipelineModel, run_id: str) -> float | None:
        rec = model.records.get(run_id)
        if rec is not None and rec.started_at is not None:
            return rec.started_at
        stats = model.runs.get(run_id)
        return stats.first_us / 1e6 if stats else None

    def run_started(self, pipeline: Pipeline, run_id: str) -> float | None:
        """When a run of a pipeline started (epoch s): its record's ``started_at``, else its
        first event; None when unknown (the one start-time rule)."""
        model = self.pipelines.get(pipeline)
        return self._started(model, run_id) if model is not None else None

    def newest_run(self, pipeline: Pipeline) -> str | None:
        """The run of a pipeline that started last."""
        model = self.pipelines[pipeline]
        runs = [(self._started(model, r) or 0.0, r) for r in self._run_ids(model)]
        return max(runs)[1] if runs else None

    def labels(self, pipeline: Pipeline) -> dict[tuple[str, ...], str]:
        """Node labels known for a pipeline: run records first, then ``--job`` files."""
        model = self.pipelines[pipeline]
        labels = labels_from_run_records(r.nodes for r in model.records.values())
        labels.update(self.jobs.for_pipeline(self.pipeline_title(pipeline)))
        return labels

    def pipeline_uri(self, pipeline: Pipeline) -> str:
        """The pipeline URI its newest run wrote (events or run record), "" if none."""
        model = self.pipelines[pipeline]
        for run_id in sorted(
            self._run_ids(model), key=lambda r: self._started(model, r) or 0.0, reverse=True
        ):
            stats, rec = model.runs.get(run_id), model.records.get(run_id)
            uri = (stats.pipeline_uri if stats else "") or (rec.pipeline_uri if rec else "")
            if uri:
                return uri
        return ""

    def pipeline_title(self, pipeline: Pipeline) -> tuple[str, ...]:
        """The pipeline's name parts as shown (see :func:`naming.pipeline_name_parts`)."""
        return pipeline_name_parts(pipeline, self.pipeline_uri(pipeline), self.root)

    def _resolve(self, pipeline: Pipeline, view: View) -> str | None:
        if view.all_runs:
            return None
        return view.run_id or self.newest_run(pipeline)

    # -- views -------------------------------------------------------------------------------
    def packet_rows(
        self,
        key: NodeKey,
        view: View | None = None,
        now: float | None = None,
        verdicts: Mapping[str, Verdict] | None = None,
        states: Iterable[str] | None = None,
        ordered: bool = True,
    ) -> pa.Table:
        """A node's packets in a view, as display rows (see :data:`views.ROW_COLUMNS`), in
        THE packet order (:func:`views.order_rows`) unless ``ordered`` is False.

        ``verdicts`` (from :meth:`verdicts` or ``PipelineInfo.verdicts`` at the same ``now``)
        saves judging the runs again when rows of many nodes are wanted at once. ``states``
        keeps only rows in those shown states (cheaper than filtering afterwards: only the
        rows kept are ordered).
        """
        now = self.clock() if now is None else now
        pipeline, identity = key
        if verdicts is None:
            verdicts = self.verdicts(pipeline, now)
        node = self.pipelines[pipeline].nodes[identity]
        return self._rows(node, view or View(), verdicts, now, states, ordered)

    def _rows(
        self,
        node: Node,
        view: View,
        verdicts: Mapping[str, Verdict],
        now: float,
        states: Iterable[str] | None = None,
        ordered: bool = True,
    ) -> pa.Table:
        run_id = self._resolve(node.pipeline, view)
        stamp = _view_stamp(node, view.all_runs, run_id)
        if states is None:
            # Display rows depend only on the packets, the dead runs' reasons and ``now``: a
            # second ask at the same moment (the snapshot's counts, then a report) reuses them.
            dead = tuple(sorted(lost_reasons(verdicts).items()))
            memo_key = (stamp, ordered, dead, now)
            memo = self._display_memo.get(node.key)
            if memo is not None and memo[0] == memo_key:
                return memo[1]
            rows = self._display(node, view, run_id, stamp, verdicts, now, ordered)
            self._display_memo[node.key] = (memo_key, rows)
            return rows
        return self._display(node, view, run_id, stamp, verdicts, now, ordered, states)

    def _chosen(self, node: Node, run_id: str | None, all_runs: bool) -> pa.Table:
        """A node's packet rows in a view: its ordered rows when they are cached for the view,
        else those of :func:`views.packets_for_view` (in packet order; all of them, with no run
        id compared, when the node has only the view's run). Display rows and triage times are
        made from these, so their row indices agree."""
        cached = self._cached_rows(node, run_id, all_runs)
        if cached is not None:
            return cached
        if not all_runs and run_id is not None and _only_run(node, run_id):
            return node.packets.table()
        return packets_for_view(node.packets.table(), run_id, all_runs)

    def _cached_rows(self, node: Node, run_id: str | None, all_runs: bool) -> pa.Table | None:
        """The node's ordered rows in the view, when cached for its present packets."""
        cached = self._rows_cache.get(node.key)
        if cached is not None and cached[0] == _view_stamp(node, all_runs, run_id):
            return cached[1]
        return None

    def _display(
        self,
        node: Node,
        view: View,
        run_id: str | None,
        stamp: tuple,
        verdicts: Mapping[str, Verdict],
        now: float,
        ordered: bool,
        states: Iterable[str] | None = None,
    ) -> pa.Table:
        cached = self._cached_rows(node, run_id, view.all_runs)
        if cached is not None:
            rows = display_rows(cached, verdicts, now)
            return rows if states is None else filter_rows(rows, states)
        chosen = self._chosen(node, run_id, view.all_runs)
        if states is not None or not ordered:
            rows = display_rows(chosen, verdicts, now)
            rows = rows if states is None else filter_rows(rows, states)
            return order_rows(rows) if ordered else rows
        ordered = order_rows(chosen)
        self._rows_cache[node.key] = (stamp, ordered)
        return display_rows(ordered, verdicts, now)

    def problem_rows(
        self, key: NodeKey, view: View, now: float, verdicts: Mapping[str, Verdict]
    ) -> pa.Table:
        """A node's FAILED, LOST and RUNNING display rows in a view, unordered: only those
        packets are made display rows (the problems view reads every node's; far cheaper than
        ``packet_rows(states=…)``, which makes every packet a display row first)."""
        return self.problem_rows_many([key], view, now, verdicts)[0]

    def problem_rows_many(
        self, keys: Sequence[NodeKey], view: View, now: float, verdicts: Mapping[str, Verdict]
    ) -> list[pa.Table]:
        """:meth:`problem_rows` of many nodes of a pipeline, their display rows made together
        (:func:`views.display_rows_many`). Each node's rows keep the order of its rows in the
        view (:meth:`_chosen`), which triage times index."""
        tables: list[pa.Table | None] = []
        coded: list[int] = []  # the tables whose state codes are compared in numpy
        runs: set[str | None] = set()
        for key in keys:
            pipeline, identity = key
            node = self.pipelines[pipeline].nodes[identity]
            run_id = self._resolve(pipeline, view)
            runs.add(run_id)
            chosen = self._problem_source(node, run_id, view.all_runs)
            if isinstance(chosen, tuple):  # filtered already
                tables.append(chosen[0])
                continue
            state = chosen.column("state")
            if state.null_count or not pa.types.is_integer(state.type):
                codes = _PROBLEM_CODES.cast(state.type)
                tables.append(chosen.filter(pc.fill_null(pc.is_in(state, codes), False)))
                continue
            coded.append(len(tables))
            tables.append(chosen)
        if coded:
            # The state codes of all nodes compared in one numpy pass (an Arrow set lookup is
            # built anew at every call), then each node's rows taken from its own table.
            chunks = [c.to_numpy() for i in coded for c in tables[i].column("state").chunks]
            code = np.concatenate([np.zeros(0, np.int8), *chunks])
            picked = np.flatnonzero((code == int(State.FAILED)) | (code == int(State.RUNNING)))
            ends = np.cumsum([tables[i].num_rows for i in coded])
            bounds = np.searchsorted(picked, ends).tolist()
            start = 0
            for i, end, stop in zip(coded, ends.tolist(), bounds, strict=True):
                table = tables[i]
                at = end - table.num_rows
                tables[i] = table.take(from_numpy(picked[start:stop] - at))
                start = stop
        one_run = next(iter(runs)) if len(runs) == 1 and not view.all_runs else None
        return display_rows_many(tables, verdicts, now, run_id=one_run)  # type: ignore[arg-type]

    def _problem_source(
        self, node: Node, run_id: str | None, all_runs: bool
    ) -> pa.Table | tuple[pa.Table]:
        """The rows a node's problem rows are picked from (:meth:`_chosen`), or, as a 1-tuple,
        its FAILED and RUNNING rows of ``run_id`` themselves when the run is a part of the
        node's rows that is not cached (one mask for the run and the states: no copy of the
        run's other packets)."""
        if all_runs or run_id is None:
            return self._chosen(node, run_id, all_runs)
        cached = self._cached_rows(node, run_id, all_runs)
        if cached is not None:
            return cached
        packets = node.packets.table()
        if _only_run(node, run_id):
            return packets
        mask = pc.and_(
            pc.equal(packets.column("run_id"), run_id),
            pc.is_in(
                packets.column("state"), _PROBLEM_CODES.cast(packets.schema.field("state").type)
            ),
        )
        return (packets.filter(pc.fill_null(mask, False)),)

    def node_counts(
        self,
        node: Node,
        view: View,
        run_id: str | None,
        verdicts: Mapping[str, Verdict],
        now: float,
    ) -> dict[str, int]:
        """Packets per shown state of one node in a view (LOST separate from RUNNING)."""
        if view.all_runs:
            return count_states(self._rows(node, view, verdicts, now))
        counts = _zero_counts()
        if run_id is None:
            return counts
        for state in State:
            if state is State.LOST:
                continue
            counts[state.name] = node.packets.counts.get((run_id, int(state)), 0)
        if run_id in lost_reasons({run_id: verdicts[run_id]} if run_id in verdicts else {}):
            counts["LOST"], counts["RUNNING"] = counts["RUNNING"], 0
        return counts

    def run_infos(
        self,
        pipeline: Pipeline,
        now: float | None = None,
        verdicts: Mapping[str, Verdict] | None = None,
    ) -> list[RunInfo]:
        """Every run of a pipeline, newest first, with counts over all its nodes."""
        now = self.clock() if now is None else now
        model = self.pipelines[pipeline]
        if verdicts is None:
            verdicts = self.verdicts(pipeline, now)
        infos = []
        for run_id in self._run_ids(model):
            counts = _zero_counts()
            for node in model.nodes.values():
                for state, n in self.node_counts(node, View(run_id), run_id, verdicts, now).items():
                    counts[state] += n
            stats, rec = model.runs.get(run_id), model.records.get(run_id)
            infos.append(
                RunInfo(
                    run_id=run_id,
                    verdict=verdicts[run_id],
                    started=self._started(model, run_id),
                    last_event=stats.last_us / 1e6 if stats else None,
                    ended=rec.ended_at if rec else None,
                    outcome=rec.outcome if rec else None,
                    counts=counts,
                    has_record=rec is not None,
                )
            )
        infos.sort(key=lambda r: (r.started or 0.0, r.run_id), reverse=True)
        return infos

    def snapshot(
        self, views: Mapping[Pipeline, View] | None = None, now: float | None = None
    ) -> Snapshot:
        """Every pipeline with its runs and node counts, each in its view (default: newest run)."""
        now = self.clock() if now is None else now
        views = views or {}
        pipelines = []
        for name in sorted(self.pipelines):
            model = self.pipelines[name]
            view = views.get(name, View())
            run_id = self._resolve(name, view)
            verdicts = self.verdicts(name, now)
            labels = self.labels(name)
            runs = self.run_infos(name, now, verdicts)
            nodes = []
            total = _zero_counts()
            order = sorted(model.nodes.values(), key=_node_order)
            triage = self.triage(name, run_id, verdicts, now) if run_id is not None else {}
            run_live = run_id is not None and run_id in verdicts and verdicts[run_id].live
            progresses = []
            for node in order:
                identity = node.identity
                counts = self.node_counts(node, view, run_id, verdicts, now)
                for s, n in counts.items():
                    total[s] += n
                tags = tuple(display_tag_name(t) for t in node.packets.tag_names)
                extra: dict = {}
                t = triage.get(node.key)
                if t is not None:
                    progress = triage_progress(t, now, live=run_live)
                    progresses.append(progress)
                    slow = slow_count(t, now)
                    extra = {"progress": progress, "slow": slow, "slow_bound": t.bound}
                nodes.append(NodeInfo(node.key, node_name(identity, labels), counts, tags, **extra))
            run = next((r for r in runs if r.run_id == run_id), None)
            pipelines.append(
                PipelineInfo(
                    name,
                    view,
                    run,
                    tuple(runs),
                    tuple(nodes),
                    total,
                    verdicts=verdicts,
                    title=self.pipeline_title(name),
                    progress=run_progress(progresses) if progresses else None,
                )
            )
        warnings = tuple(w for ws in self.warnings.values() for w in ws)
        return Snapshot(
            self.root, now, tuple(pipelines), dict(self.store.broken), self.version, warnings
        )

    def triage_plan(
        self, pipeline: Pipeline, run_id: str, verdicts: Mapping[str, Verdict]
    ) -> TriagePlan:
        """What a pipeline's triage in ``run_id`` rests on — the previous run, each node's declared
        total and previous count, the cache key — and which nodes' cached figures still hold.
        One rule for :meth:`triage` and the time cursor's triage (``asof.cursor_triage``)."""
        model = self.pipelines[pipeline]
        newest_first = [
            r
            for _, r in sorted(
                ((self._started(model, r) or 0.0, r) for r in self._run_ids(model)), reverse=True
            )
        ]
        live = {r: v.live for r, v in verdicts.items()}
        prev = previous_run(newest_first, live, run_id)
        lost = run_id in verdicts and not verdicts[run_id].live
        prev_lost = prev is not None and prev in verdicts and not verdicts[prev].live
        record = model.records.get(run_id)
        prev_record = model.records.get(prev) if prev is not None else None
        cached: dict[NodeKey, NodeTriage] = {}
        stale: list[tuple[Node, tuple, int | None, int | None]] = []
        for node in model.nodes.values():
            declared = _declared(record, node.identity)
            prev_count = None
            if prev is not None:
                prev_count = sum(node.packets.counts.get((prev, int(s)), 0) for s in State) or None
                prev_count = prev_count or _declared(prev_record, node.identity)
            stamp = (node.packets.version, run_id, lost, prev, declared, prev_count)
            hit = self._triage_cache.get(node.key)
            if hit is not None and hit[0] == stamp:
                cached[node.key] = hit[1]
            else:
                stale.append((node, stamp, declared, prev_count))
        return TriagePlan(prev, lost, prev_lost, cached, stale)

    def triage(
        self,
        pipeline: Pipeline,
        run_id: str,
        verdicts: Mapping[str, Verdict],
        now: float,
    ) -> dict[NodeKey, NodeTriage]:
        """Per node of a pipeline, its :class:`NodeTriage` in ``run_id`` (cached per node until
        its packets, the run's liveness or the previous run change)."""
        plan = self.triage_plan(pipeline, run_id, verdicts)
        prev, out, stale = plan.prev, dict(plan.cached), plan.stale
        if stale:
            # From the packet rows: the display rows of every node are not made for this.
            tables = [self._chosen(n, run_id, False) for n, *_ in stale]
            keys = [(n.key, run_id) for n, *_ in stale]
            times = packets_times(tables, verdicts, now, keys, self._sorted_durations, run_id)
            # An earlier run is read only for nodes with too few completed packets of their own
            # (for the typical duration of the ETA and for the slow bound).
            need = [
                i
                for i, t in enumerate(times)
                if prev is not None and len(t.durations) < MIN_PEERS_FOR_BOUND
            ]
            history_tables = {
                i: self._rows(stale[i][0], View(prev), verdicts, now, ordered=False) for i in need
            }
            history_times = nodes_times(
                [history_tables[i] for i in need],
                [(stale[i][0].key, prev) for i in need],
                self._sorted_durations,
            )
            histories = dict(zip(need, history_times, strict=True))
            earlier = [
                earlier_durations(history_tables[i], run_id) if i in history_tables else None
                for i in range(len(stale))
            ]
            bounds = nodes_bounds(times, earlier)  # all nodes at once
            for i, (node, stamp, declared, prev_count) in enumerate(stale):
                t = NodeTriage(
                    times=times[i],
                    declared=declared,
                    previous_count=prev_count,
                    history=histories.get(i),
                    bound=bounds[i],
                )
                self._triage_cache[node.key] = (stamp, t)
                out[node.key] = t
        return out

    def reuse_views(self, other: Monitor) -> None:
        """Take ``other``'s cached per-node rows and triage inputs (the time cursor's moments
        share the packets of nodes with no event between them). The caches are keyed by the
        node's packets version, so an entry applies only to the same packets."""
        self._rows_cache.update(other._rows_cache)
        self._triage_cache.update(other._triage_cache)

    def details(self, key: NodeKey, row: Mapping) -> PacketDetails:
        """A packet's display row with its log row (None when it has none)."""
        pipeline, identity = key
        node = self.pipelines[pipeline].nodes[identity]
        tags = {t: row.get(display_tag_name(t)) for t in node.packets.tag_names}
        return PacketDetails(key, dict(row), node.logs.lookup(row["run_id"], tags))


def triage_progress(t: NodeTriage, now: float, *, live: bool) -> Progress:
    """A node's progress at ``now`` from its cached :class:`NodeTriage` (cheap: per tick)."""
    return node_progress(
        t.times,
        now,
        declared=t.declared,
        previous_count=t.previous_count,
        history_durations=t.history.durations if t.history is not None else None,
        live=live,
    )


def slow_count(t: NodeTriage, now: float) -> int:
    """How many of the node's RUNNING packets are past its slow bound at ``now``."""
    if t.bound is None:
        return 0
    cutoff_us = (now - t.bound.bound_s) * 1e6
    return int(np.count_nonzero(t.times.running_started_us < cutoff_us))


def _view_stamp(node: Node, all_runs: bool, run_id: str | None) -> tuple:
    """What a node's rows in a view depend on: its packets' version and the view."""
    return (node.packets.version, all_runs, run_id)


#: The states of :meth:`Monitor.problem_rows`' packet rows (LOST ones are RUNNING in them).
_PROBLEM_CODES = pa.array([int(State.FAILED), int(State.RUNNING)])


def _only_run(node: Node, run_id: str) -> bool:
    """Whether every packet of the node is of ``run_id`` (by its counts: no id compared)."""
    return all(r == run_id or not n for (r, _), n in node.packets.counts.items())


def _declared(record: RunRecord | None, identity: Identity) -> int | None:
    """The total declared for a node in a (merged) run record, if any."""
    if record is None:
        return None
    info = record.nodes.get("/".join(identity))
    total = info.get("total") if isinstance(info, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _run_aggregates(events: pa.Table) -> list[tuple[str, int, int, int, str]]:
    """(run id, first µs, last µs, events, pipeline uri) per run in a batch of events."""
    first = only_run(events)
    if first is not None:
        lo, hi = pc.min_max(events.column("ts")).values()  # one run: no hashing of run ids
        uri = events.column("pipeline_uri")[0].as_py() or ""
        return [(first, lo.as_py(), hi.as_py(), events.num_rows, uri)]
    enc = pc.dictionary_encode(events.column("run_id")).combine_chunks()
    runs = enc.dictionary.to_pylist()
    idx = enc.indices.to_numpy(zero_copy_only=False)
    ts = events.column("ts").to_numpy()
    uris = events.column("pipeline_uri")
    out = []
    for i, run_id in enumerate(runs):
        sel = idx == i
        first = int(np.argmax(sel))
        uri = uris[first].as_py() or ""
        out.append((run_id, int(ts[sel].min()), int(ts[sel].max()), int(sel.sum()), uri))
    return out


def _node_order(node: Node) -> tuple[int, tuple[str, ...]]:
    """Nodes in the order the pipeline first reached them, then by identity."""
    first = node.packets.first_us
    return (first if first is not None else 2**62, node.identity)


def filter_rows(rows: pa.Table, states: Iterable[str] | None = None, search: str = "") -> pa.Table:
    """Display rows limited to some states and to rows whose tag values contain ``search``."""
    if states is not None:
        rows = rows.filter(pc.is_in(rows.column("state"), pa.array(list(states), pa.string())))
    if search:
        tag_cols = [c for c in rows.column_names if c not in _NON_TAG]
        mask = None
        needle = search.lower()
        for c in tag_cols:
            hit = pc.fill_null(pc.match_substring(pc.utf8_lower(rows.column(c)), needle), False)
            mask = hit if mask is None else pc.or_(mask, hit)
        if mask is None:
            return rows.slice(0, 0)
        rows = rows.filter(mask)
    return rows


_NON_TAG = set(ROW_COLUMNS)
