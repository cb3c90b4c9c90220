"""The runs × nodes grid of a pipeline: per node and run, how many packets ended in which state.

Rows are the pipeline's nodes in tree order, columns its runs, newest first. A cell holds the
node's packet counts in that run per state (LOST, FAILED, slow, RUNNING, CACHED, SUCCESS: the one
severity order of :mod:`orcatui.model.severity`), its worst state, or nothing when the node did not
run in that run. ``slow`` is a flag on RUNNING packets (it is counted inside RUNNING too).

The inputs are plain: each node's folded packets of all runs (``NodePackets.table()``: the
``PACKET_SCHEMA`` columns plus ``tag:<name>``) with its version, the runs newest first, and the
runs whose RUNNING packets are LOST (runs that are not live). :class:`GridBuilder` counts a node's
packets per (run, state) once, vectorised, and keeps that until the node's version changes, so a
grid after an update costs the nodes that changed plus one array assembly;
:meth:`GridBuilder.update_newest` recounts only the newest run's packets of the nodes that changed.

:func:`pipeline_inputs` gathers these inputs from a :class:`~orcatui.model.monitor.Monitor`; it is
the only place in the across-runs modules (grid, diff, history) that reads Monitor internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.naming import node_name
from orcatui.model.severity import SEVERITY_ORDER
from orcatui.model.states import State

if TYPE_CHECKING:
    from orcatui.model.monitor import Monitor, RunInfo

Identity = tuple[str, ...]

#: Written state codes counted per cell (LOST is derived from RUNNING when the run is not live).
_CODES = (State.RUNNING, State.SUCCESS, State.FAILED, State.CACHED)
_NCODES = max(int(s) for s in _CODES) + 1
#: Index of each cell-state name in a cell's counts (the severity order, worst first).
CELL_STATES = SEVERITY_ORDER
_IDX = {name: i for i, name in enumerate(CELL_STATES)}


@dataclass(frozen=True)
class NodeInput:
    """One node of a pipeline as the across-runs rules read it."""

    identity: Identity
    name: str
    packets: pa.Table  # PACKET_SCHEMA + tag:<name> columns, every run
    version: int = 0  # changes whenever ``packets`` changes (caches are keyed by it)


@dataclass(frozen=True)
class PipelineInputs:
    """A pipeline's nodes in tree order, its runs newest first, and which runs' RUNNING is LOST."""

    pipeline: tuple[str, ...]
    nodes: tuple[NodeInput, ...]
    runs: tuple[str, ...]
    lost: Mapping[str, str]  # run id -> why its RUNNING packets are LOST
    infos: tuple[Any, ...] = ()  # RunInfo per run, newest first, when gathered from a Monitor


def lost_reasons(verdicts: Mapping[str, Any]) -> dict[str, str]:
    """Runs that are not live → the reason their RUNNING packets are LOST (as the table says)."""
    return {
        run_id: f"{v.reason} ({v.certainty.value})" for run_id, v in verdicts.items() if not v.live
    }


def pipeline_inputs(
    monitor: Monitor,
    pipeline: tuple[str, ...],
    now: float | None = None,
    *,
    order: Sequence[Identity] | None = None,
    run_infos: Sequence[RunInfo] | None = None,
) -> PipelineInputs:
    """A pipeline's inputs from a Monitor: nodes (tree order unless ``order`` is given), runs.

    ``order``: node identities as the tree shows them (``PipelineInfo.nodes``); by default nodes
    are ordered as the monitor's tree orders them (first event, then identity).
    ``run_infos``: the pipeline's ``Monitor.run_infos`` at ``now`` if already computed.
    """
    now = monitor.clock() if now is None else now
    model = monitor.pipelines[pipeline]
    verdicts = monitor.verdicts(pipeline, now)
    infos = (
        tuple(run_infos)
        if run_infos is not None
        else tuple(monitor.run_infos(pipeline, now, verdicts))
    )
    labels = monitor.labels(pipeline)
    if order is None:
        order = [
            n.identity
            for n in sorted(
                model.nodes.values(),
                key=lambda n: (
                    n.packets.first_us if n.packets.first_us is not None else 2**62,
                    n.identity,
                ),
            )
        ]
    nodes = []
    for identity in order:
        node = model.nodes.get(identity)
        if node is None:
            continue
        nodes.append(
            NodeInput(
                identity,
                node_name(identity, labels).title,
                node.packets.table(),
                node.packets.version,
            )
        )
    return PipelineInputs(
        pipeline,
        tuple(nodes),
        tuple(r.run_id for r in infos),
        lost_reasons(verdicts),
        infos,
    )


def slow_counts(
    monitor: Monitor,
    pipeline: tuple[str, ...],
    now: float,
    verdicts: Mapping[str, Any] | None = None,
) -> dict[tuple[Identity, str], int]:
    """(node identity, run id) → RUNNING packets flagged slow at ``now``, for every live run of
    a pipeline (only a live run has RUNNING packets that are not LOST). The bounds come from the
    monitor's per-node triage, cached per data version, so this costs one count per node."""
    from orcatui.model.monitor import slow_count

    verdicts = monitor.verdicts(pipeline, now) if verdicts is None else verdicts
    out: dict[tuple[Identity, str], int] = {}
    for run_id, verdict in verdicts.items():
        if not verdict.live:
            continue
        for (_p, identity), t in monitor.triage(pipeline, run_id, verdicts, now).items():
            n = slow_count(t, now)
            if n:
                out[(identity, run_id)] = n
    return out


@dataclass(frozen=True)
class Cell:
    """One node in one run: counts per cell state, the worst one; ``ran`` False = did not run."""

    identity: Identity
    run_id: str
    counts: dict[str, int]
    worst: str | None

    @property
    def ran(self) -> bool:
        """Whether the node has any packet in the run."""
        return self.worst is not None

    @property
    def total(self) -> int:
        """Packets of the node in the run (slow packets are among the RUNNING ones)."""
        return sum(n for s, n in self.counts.items() if s != "slow")


@dataclass
class Grid:
    """The runs × nodes grid: ``counts[i, j, k]`` packets of node i in run j in ``CELL_STATES[k]``.

    ``worst[i, j]`` is the index in ``CELL_STATES`` of the cell's worst state, -1 if it did not run.
    """

    pipeline: tuple[str, ...]
    nodes: tuple[Identity, ...]
    names: tuple[str, ...]
    runs: tuple[str, ...]  # newest first
    counts: np.ndarray  # (nodes, runs, len(CELL_STATES)) int64
    worst: np.ndarray  # (nodes, runs) int8
    raw: np.ndarray = field(repr=False)  # (nodes, runs, state codes) as written, before LOST
    versions: tuple[int, ...] = field(repr=False, default=())
    _run_index: dict[str, int] = field(repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._run_index = {r: j for j, r in enumerate(self.runs)}

    def column(self, run_id: str) -> int | None:
        """The column of a run, or None."""
        return self._run_index.get(run_id)

    def cell(self, row: int, col: int) -> Cell:
        """The cell at (node row, run column): O(1), what a cursor move reads."""
        counts = dict(zip(CELL_STATES, (int(n) for n in self.counts[row, col]), strict=True))
        w = int(self.worst[row, col])
        return Cell(self.nodes[row], self.runs[col], counts, CELL_STATES[w] if w >= 0 else None)

    def column_counts(self, col: int) -> dict[str, int]:
        """Counts of one run over all nodes, per cell state."""
        total = self.counts[:, col, :].sum(axis=0)
        return dict(zip(CELL_STATES, (int(n) for n in total), strict=True))


def count_by_run(packets: pa.Table) -> tuple[list[str], np.ndarray]:
    """A node's packets counted per (run, written state code): run ids, counts (runs, codes)."""
    if packets.num_rows == 0:
        return [], np.zeros((0, _NCODES), np.int64)
    enc = pc.dictionary_encode(packets.column("run_id")).combine_chunks()
    runs = enc.dictionary.to_pylist()
    idx = pc.fill_null(enc.indices, len(runs)).to_numpy(zero_copy_only=False).astype(np.int64)
    state = pc.fill_null(packets.column("state"), -1).to_numpy().astype(np.int64)
    ok = (state >= 0) & (state < _NCODES)
    flat = np.bincount(idx[ok] * _NCODES + state[ok], minlength=(len(runs) + 1) * _NCODES).reshape(
        len(runs) + 1, _NCODES
    )
    return [r if r is not None else "" for r in runs], flat[: len(runs)]


def _derive(
    raw: np.ndarray,
    runs: Sequence[str],
    nodes: Sequence[Identity],
    lost: Mapping[str, str],
    slow: Mapping[tuple[Identity, str], int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw written counts → cell counts in severity order (LOST, slow applied) and worst index."""
    n_nodes, n_runs = raw.shape[:2]
    dead = np.array([r in lost for r in runs], dtype=bool)
    running = raw[:, :, int(State.RUNNING)]
    counts = np.zeros((n_nodes, n_runs, len(CELL_STATES)), np.int64)
    counts[:, :, _IDX["LOST"]] = np.where(dead[None, :], running, 0)
    counts[:, :, _IDX["RUNNING"]] = np.where(dead[None, :], 0, running)
    counts[:, :, _IDX["FAILED"]] = raw[:, :, int(State.FAILED)]
    counts[:, :, _IDX["CACHED"]] = raw[:, :, int(State.CACHED)]
    counts[:, :, _IDX["SUCCESS"]] = raw[:, :, int(State.SUCCESS)]
    if slow:
        rows = {ident: i for i, ident in enumerate(nodes)}
        cols = {r: j for j, r in enumerate(runs)}
        for (ident, run_id), n in slow.items():
            i, j = rows.get(ident), cols.get(run_id)
            if i is not None and j is not None and not dead[j]:
                counts[i, j, _IDX["slow"]] = min(int(n), int(counts[i, j, _IDX["RUNNING"]]))
    present = counts > 0
    worst = np.where(present.any(axis=2), present.argmax(axis=2), -1).astype(np.int8)
    return counts, worst


class GridBuilder:
    """Builds grids, keeping each node's per-run counts until its packets' version changes."""

    def __init__(self) -> None:
        self._cache: dict[Identity, tuple[int, list[str], np.ndarray]] = {}

    def node_counts(self, node: NodeInput) -> tuple[list[str], np.ndarray]:
        """A node's (run ids, counts per written state), from the cache when still valid."""
        hit = self._cache.get(node.identity)
        if hit is not None and hit[0] == node.version:
            return hit[1], hit[2]
        runs, counts = count_by_run(node.packets)
        self._cache[node.identity] = (node.version, runs, counts)
        return runs, counts

    def build(
        self,
        inputs: PipelineInputs,
        slow: Mapping[tuple[Identity, str], int] | None = None,
    ) -> Grid:
        """The whole grid. ``slow``: (node identity, run id) → slow RUNNING packets, if known."""
        runs = inputs.runs
        cols = {r: j for j, r in enumerate(runs)}
        raw = np.zeros((len(inputs.nodes), len(runs), _NCODES), np.int64)
        for i, node in enumerate(inputs.nodes):
            node_runs, counts = self.node_counts(node)
            if not node_runs:
                continue
            where = np.array([cols.get(r, -1) for r in node_runs], dtype=np.int64)
            known = where >= 0
            raw[i, where[known], :] = counts[known]
        return self._finish(inputs, raw, slow)

    def _finish(
        self,
        inputs: PipelineInputs,
        raw: np.ndarray,
        slow: Mapping[tuple[Identity, str], int] | None,
    ) -> Grid:
        nodes = tuple(n.identity for n in inputs.nodes)
        counts, worst = _derive(raw, inputs.runs, nodes, inputs.lost, slow)
        return Grid(
            inputs.pipeline,
            nodes,
            tuple(n.name for n in inputs.nodes),
            tuple(inputs.runs),
            counts,
            worst,
            raw,
            tuple(n.version for n in inputs.nodes),
        )

    def update_newest(
        self,
        grid: Grid,
        inputs: PipelineInputs,
        slow: Mapping[tuple[Identity, str], int] | None = None,
    ) -> Grid:
        """The grid after events arrived for the newest run: only that column is recounted.

        When the newest run is new, a column is added on the left. LOST is re-derived for every
        column (a run stops being live when a newer one starts). If the nodes or the older runs
        differ from ``grid``'s, this is :meth:`build`. Events for an older run arriving later
        (a slow writer) are picked up by the next :meth:`build`.
        """
        nodes = tuple(n.identity for n in inputs.nodes)
        runs = tuple(inputs.runs)
        if nodes != grid.nodes or not runs:
            return self.build(inputs, slow)
        if runs == grid.runs:
            raw = grid.raw.copy()
        elif runs[1:] == grid.runs:
            raw = np.concatenate([np.zeros_like(grid.raw[:, :1, :]), grid.raw], axis=1)
        else:
            return self.build(inputs, slow)
        newest, added = runs[0], runs != grid.runs
        for i, node in enumerate(inputs.nodes):
            if not added and node.version == grid.versions[i]:
                continue
            raw[i, 0, :] = _count_one_run(node.packets, newest)
        return self._finish(inputs, raw, slow)


def _count_one_run(packets: pa.Table, run_id: str) -> np.ndarray:
    out = np.zeros(_NCODES, np.int64)
    if packets.num_rows == 0:
        return out
    mask = pc.fill_null(pc.equal(packets.column("run_id"), run_id), False)
    state = pc.fill_null(pc.filter(packets.column("state"), mask), -1).to_numpy().astype(np.int64)
    state = state[(state >= 0) & (state < _NCODES)]
    out[:_NCODES] = np.bincount(state, minlength=_NCODES)[:_NCODES]
    return out
