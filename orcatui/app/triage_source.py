"""The model side of issue 10 in the app, Textual-free (it runs on the refresher's thread).

:class:`TriageSource` is the :class:`~orcatui.app.refresher.MonitorSource` the app uses: it makes
the same frames, then applies the issue-10 rules to the node's rows — search over tags, error
text and state with ANDed words (:func:`orcatui.model.sorting.search_rows`), sorting by any
column with numbers as numbers and the one severity order (:func:`~orcatui.model.sorting.
sort_rows`, or "running longest"), slow flags, and a LOST packet's duration measured until its
run's last sign of life. :func:`problems` gathers every FAILED, LOST and slow packet of a
snapshot into groups for the problems view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.app.filters import BY_NAME
from orcatui.app.refresher import Frame, MonitorSource, ViewState
from orcatui.app.triage_keys import RUNNING_LONGEST
from orcatui.model.diff import previous_run_of_node, regressed_keys
from orcatui.model.errors import ErrorGrouper, NodeFailures, log_rows
from orcatui.model.grid import NodeInput, lost_reasons
from orcatui.model.monitor import Monitor, NodeInfo, NodeKey, Snapshot
from orcatui.model.severity import rank
from orcatui.model.slow import SlowBound
from orcatui.model.sorting import running_longest, search_rows, sort_rows
from orcatui.model.views import View

__all__ = ["RUNNING_LONGEST", "TriageFrame", "TriageSource", "problems"]


@dataclass(frozen=True)
class TriageFrame(Frame):
    """A frame plus one bool per shown row: RUNNING and past its node's slow bound."""

    slow: np.ndarray | None = None
    #: Packets shown that regressed since the node's previous run: display-row key → the
    #: state they had then (``SUCCESS`` / ``CACHED``); the table shows ``SUCCESS → FAILED``.
    regressed: Mapping[str, str] = field(default_factory=dict)


def slow_flags(rows: pa.Table, bound: SlowBound | None, now: float) -> np.ndarray:
    """One bool per display row: RUNNING since before ``now - bound``."""
    if bound is None or rows.num_rows == 0:
        return np.zeros(rows.num_rows, dtype=bool)
    running = pc.fill_null(pc.equal(rows.column("state"), "RUNNING"), False)
    old = pc.fill_null(pc.less(rows.column("started_us"), int((now - bound.bound_s) * 1e6)), False)
    out = pc.and_(running, old)
    out = out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out
    return out.to_numpy(zero_copy_only=False)


def node_info(snapshot: Snapshot, key: NodeKey) -> NodeInfo | None:
    """A node of a snapshot by key."""
    for p in snapshot.pipelines:
        if p.name == key[0]:
            for n in p.nodes:
                if n.key == key:
                    return n
    return None


def arrange(
    rows: pa.Table,
    view: ViewState,
    *,
    bound: SlowBound | None,
    now: float,
) -> tuple[pa.Table, np.ndarray]:
    """A node's display rows (all states) → the rows shown and their slow flags."""
    chosen = BY_NAME.get(view.filter)
    if chosen is not None and chosen.states is not None:
        rows = rows.filter(pc.is_in(rows.column("state"), pa.array(chosen.states, pa.string())))
    if view.search:
        rows = search_rows(rows, view.search)
    slow = slow_flags(rows, bound, now)
    if view.sort is not None and rows.num_rows:
        column, descending = view.sort
        if column == RUNNING_LONGEST:
            rows = running_longest(rows.append_column("__slow", pa.array(slow)))
        elif column in rows.column_names:
            rows = sort_rows(
                rows.append_column("__slow", pa.array(slow)),
                column,
                descending=descending,
                slow=slow,
            )
        if "__slow" in rows.column_names:
            slow = rows.column("__slow").to_numpy(zero_copy_only=False)
            rows = rows.drop_columns(["__slow"])
    return rows, slow


class TriageSource(MonitorSource):
    """:class:`MonitorSource` with search, sort, slow flags and LOST durations of issue 10,
    and packets that regressed since the node's previous run (issue 11)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._regressed: dict[NodeKey, tuple[tuple, dict[str, str]]] = {}
        self._regressed_for: Monitor | None = None

    def regressed(self, snapshot: Snapshot, key: NodeKey) -> dict[str, str]:
        """Packets of the shown run of a node that succeeded in the node's previous run and
        fail in this one (display-row key → previous state); cached per node until its
        packets, the runs or their liveness change. Empty in the all-runs view."""
        if self.monitor is not self._regressed_for:  # a new model: nothing kept
            self._regressed.clear()
            self._regressed_for = self.monitor
        p = next((p for p in snapshot.pipelines if p.name == key[0]), None)
        model = self.monitor.pipelines.get(key[0])
        node = model.nodes.get(key[1]) if model is not None else None
        if p is None or node is None or p.view.all_runs or p.run is None:
            return {}
        runs = [r.run_id for r in p.runs]
        lost = lost_reasons(p.verdicts)
        stamp = (node.packets.version, p.run.run_id, tuple(runs), tuple(sorted(lost)))
        hit = self._regressed.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        found: dict[str, str] = {}
        node_in = NodeInput(key[1], "", node.packets.table(), node.packets.version)
        before = previous_run_of_node(node_in, runs, p.run.run_id)
        if before is not None:
            found = regressed_keys(node_in, before, p.run.run_id, lost)
        self._regressed[key] = (stamp, found)
        return found

    def frame(self, seq: int, view: ViewState) -> Frame:
        """The frame of ``view``: the base frame of all the node's rows, then arranged."""
        base = super().frame(seq, replace(view, filter="all", search="", sort=None))
        if base.rows is None or view.node is None:
            return TriageFrame(**{**_fields(base), "view": view})
        info = node_info(base.snapshot, view.node)
        rows, slow = arrange(
            base.rows,
            view,
            bound=info.slow_bound if info is not None else None,
            now=base.now,
        )
        regressed = self.regressed(base.snapshot, view.node)
        return TriageFrame(
            **{**_fields(base), "view": view, "rows": rows, "slow": slow, "regressed": regressed}
        )


def _fields(frame: Frame) -> dict[str, Any]:
    return {f: getattr(frame, f) for f in Frame.__dataclass_fields__}


# -- the problems view's model ------------------------------------------------------------


@dataclass
class ProblemGroup:
    """Packets sharing one problem: a LOST reason, an error signature, or being slow.

    The packets are kept as indices into per-node tables shared by every group (no per-group
    copies: 100,000 packets group in one vectorised pass).
    """

    kind: str  # "LOST" | "FAILED" | "slow"
    title: str
    count: int
    nodes: dict[str, int]
    #: Per-node tables: (node key, node name, display rows).
    sources: list[tuple[NodeKey, str, pa.Table]] = field(default_factory=list)
    node_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    row_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def packet(self, i: int) -> tuple[NodeKey, str, pa.Table, int]:
        """The ``i``-th packet: (node key, node name, its node's rows, row index)."""
        key, name, rows = self.sources[int(self.node_idx[i])]
        return key, name, rows, int(self.row_idx[i])

    def find(self, node: NodeKey, packet: str) -> int | None:
        """The index of a packet (by node and display-row key) in this group, or None."""
        for s, (key, _name, rows) in enumerate(self.sources):
            if key != node or rows.num_rows == 0:
                continue
            row = pc.index(rows.column("key"), packet).as_py()
            if row < 0:
                continue
            hit = np.flatnonzero((self.node_idx == s) & (self.row_idx == row))
            if len(hit):
                return int(hit[0])
        return None


@dataclass
class Problems:
    """Every problem of a snapshot, worst kind first, then the largest groups."""

    groups: list[ProblemGroup]
    views: dict[tuple[str, ...], View]
    now: float

    @property
    def packets(self) -> int:
        """Packets over all groups."""
        return sum(g.count for g in self.groups)


def _group(
    kind: str,
    title: str,
    sources: list[tuple[NodeKey, str, pa.Table]],
    node_idx: np.ndarray,
    row_idx: np.ndarray,
) -> ProblemGroup:
    counts = np.bincount(node_idx, minlength=len(sources))
    nodes: dict[str, int] = {}
    for i in np.flatnonzero(counts):
        name = sources[int(i)][1]
        nodes[name] = nodes.get(name, 0) + int(counts[i])
    return ProblemGroup(kind, title, len(node_idx), nodes, sources, node_idx, row_idx)


def _by_code(
    kind: str,
    sources: list[tuple[NodeKey, str, pa.Table]],
    codes: np.ndarray,
    titles: list[str],
    order_key: np.ndarray | None = None,
) -> list[ProblemGroup]:
    """Groups of the rows of ``sources`` (concatenated) by a code per row."""
    node_of = np.concatenate([np.full(t.num_rows, i) for i, (_, _, t) in enumerate(sources)])
    row_of = np.concatenate([np.arange(t.num_rows) for _, _, t in sources])
    keys = [row_of, node_of] if order_key is None else [order_key]
    order = np.lexsort((*keys, codes))
    sorted_codes = codes[order]
    uniq = np.unique(codes)
    bounds = np.searchsorted(sorted_codes, np.append(uniq, uniq[-1] + 1 if len(uniq) else 0))
    out = []
    for g, code in enumerate(uniq):
        members = order[bounds[g] : bounds[g + 1]]
        out.append(_group(kind, titles[int(code)], sources, node_of[members], row_of[members]))
    return out


def _node_names(snapshot: Snapshot) -> dict[NodeKey, str]:
    out: dict[NodeKey, str] = {}
    for p in snapshot.pipelines:
        titles: dict[str, int] = {}
        for n in p.nodes:
            titles[n.name.title] = titles.get(n.name.title, 0) + 1
        for n in p.nodes:
            name = n.name.title
            if titles[name] > 1 and n.name.detail:
                name += f" [{n.name.detail}]"
            if len(snapshot.pipelines) > 1:
                name = f"{p.display_name}/{name}"
            out[n.key] = name
    return out


def failed_groups(
    failed: list[tuple[NodeKey, str, pa.Table, pa.Table | None]], grouper: ErrorGrouper
) -> list[ProblemGroup]:
    """FAILED rows grouped by error signature, with every packet of each group (the one rule:
    :meth:`orcatui.model.errors.ErrorGrouper.assign`, as ``summary``'s error groups)."""
    failed = [f for f in failed if f[2].num_rows]
    if not failed:
        return []
    found = grouper.assign(NodeFailures(name, rows, logs) for _k, name, rows, logs in failed)
    titles = [found.signature(g) or "(no message)" for g in range(len(found.keys))]
    sources = [(f[0], f[1], rows) for f, rows in zip(failed, found.failed, strict=True)]
    return _by_code("FAILED", sources, found.group, titles)


class ProblemRows:
    """Per node, its FAILED, LOST and RUNNING display rows in a view, kept while the node's
    packets, the run shown and the runs that are over are the same (model thread only).

    Only a RUNNING packet's duration depends on the time: it is re-aged to ``now``; so the
    problems view recomputed for new data rebuilds only the nodes that changed."""

    def __init__(self) -> None:
        self._data: dict[NodeKey, tuple[tuple, float, pa.Table, pa.Table]] = {}
        self._monitor: Monitor | None = None

    def rows(
        self,
        monitor: Monitor,
        key: NodeKey,
        view: View,
        run_id: str | None,
        now: float,
        verdicts: Mapping[str, Any],
    ) -> tuple[pa.Table, pa.Table]:
        """The node's problem rows at ``now``: (FAILED rows — the same table while the node's
        data is the same —, LOST and RUNNING rows)."""
        if monitor is not self._monitor:  # a new model (the root came back): nothing kept
            self._data.clear()
            self._monitor = monitor
        node = monitor.pipelines[key[0]].nodes[key[1]]
        # a dead run's reason and stop: its LOST rows' reasons and durations
        dead = tuple(
            sorted((r, why, verdicts[r].stopped_at) for r, why in lost_reasons(verdicts).items())
        )
        stamp = (node.packets.version, view.all_runs, run_id, dead)
        hit = self._data.get(key)
        if hit is None or hit[0] != stamp:
            rows = monitor.problem_rows(key, view, now, verdicts)
            is_failed = pc.fill_null(pc.equal(rows.column("state"), "FAILED"), False)
            failed, others = rows.filter(is_failed), rows.filter(pc.invert(is_failed))
            self._data[key] = (stamp, now, failed, others)
            return failed, others
        _stamp, then, failed, others = hit
        if now == then or others.num_rows == 0:
            return failed, others
        running = pc.fill_null(pc.equal(others.column("state"), "RUNNING"), False)
        duration = others.column("duration_s")
        aged = pc.if_else(running, pc.add(duration, now - then), duration)
        i = others.column_names.index("duration_s")
        return failed, others.set_column(i, "duration_s", aged)


def problems(
    monitor: Monitor,
    views: Mapping[tuple[str, ...], View],
    now: float,
    grouper: ErrorGrouper,
    cache: ProblemRows | None = None,
) -> Problems:
    """Every FAILED, LOST and slow packet of the shown runs, grouped (runs on the model
    thread). ``cache`` keeps nodes' rows between calls (and ``grouper`` their groups)."""
    cache = cache if cache is not None else ProblemRows()
    snapshot = monitor.snapshot(dict(views), now)
    names = _node_names(snapshot)
    lost_sources: list[tuple[NodeKey, str, pa.Table]] = []
    slow_sources: list[tuple[NodeKey, str, pa.Table]] = []
    failed: list[tuple[NodeKey, str, pa.Table, pa.Table | None]] = []
    for p in snapshot.pipelines:
        for n in p.nodes:
            if not (n.counts.get("FAILED") or n.counts.get("LOST") or n.slow):
                continue
            run_id = p.run.run_id if p.run is not None else None
            f, rows = cache.rows(monitor, n.key, p.view, run_id, now, p.verdicts)
            name = names[n.key]
            state = rows.column("state")
            if n.counts.get("FAILED"):
                node = monitor.pipelines[p.name].nodes[n.key[1]]
                failed.append((n.key, name, f, log_rows(node.logs)))
            if n.counts.get("LOST"):
                lost_sources.append((n.key, name, rows.filter(pc.equal(state, "LOST"))))
            if n.slow and n.slow_bound is not None:
                flags = slow_flags(rows, n.slow_bound, now)
                if flags.any():
                    slow_sources.append((n.key, name, rows.filter(pa.array(flags))))
    groups: list[ProblemGroup] = []
    if lost_sources:
        reasons = pa.chunked_array(
            [c for _, _, t in lost_sources for c in t.column("lost_reason").chunks], pa.string()
        )
        enc = pc.dictionary_encode(pc.fill_null(reasons, "?")).combine_chunks()
        titles = [f"LOST: {r}" for r in enc.dictionary.to_pylist()]
        codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        groups += _by_code("LOST", lost_sources, codes, titles)
    groups += failed_groups(failed, grouper)
    if slow_sources:
        started = np.concatenate(
            [t.column("started_us").to_numpy(zero_copy_only=False) for _, _, t in slow_sources]
        )
        n_slow = len(started)
        title = "slow: RUNNING longer than their node's bound (typical duration + spread)"
        groups += _by_code("slow", slow_sources, np.zeros(n_slow, np.int64), [title], started)
    groups.sort(key=lambda g: (rank(g.kind), -g.count, g.title))
    return Problems(groups, dict(views), now)
