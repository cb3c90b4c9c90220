"""The diff of two runs of a pipeline: per node, which packets regressed, were fixed, are new,
are missing, or got markedly slower.

A packet is matched across runs by its run-independent key (its tag values,
``keys.packet_keys(..., with_run=False)``). Outcomes are classed: SUCCESS and CACHED are a
success, FAILED and LOST (RUNNING in a run that is no longer live) a failure; RUNNING in a live run
is neither (not finished yet). Then, from the older run (FROM) to the newer (TO):

- *regressed*: success → failure; *fixed*: failure → success;
- *new*: in TO only; *missing*: in FROM only (whatever its state);
- *slower*: computed in both runs with the same outcome (SUCCESS → SUCCESS or FAILED → FAILED;
  a CACHED duration is a cache lookup, not a computation) and TO took at least
  :data:`SLOWER_RATIO` times as long and at least :data:`SLOWER_MIN_S` seconds more.

The matching is a vectorised hash join (``pc.index_in``) over each node's two runs; Python objects
are built only for the packets that changed. The default pair is a pipeline's newest run against
its newest earlier run that shares at least one node (:func:`default_pair`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.grid import NodeInput, PipelineInputs
from orcatui.model.keys import packet_keys
from orcatui.model.runids import RunIdError, resolve_run_id
from orcatui.model.states import State
from orcatui.store.schema import TAG_PREFIX
from orcatui.text import cell

#: "Slower" needs the newer duration to be at least this many times the older one …
SLOWER_RATIO = 2.0
#: … and at least this many seconds longer.
SLOWER_MIN_S = 1.0

_NAMES = [s.name for s in sorted(State)]


def _name(code: int) -> str:
    return _NAMES[code] if 0 <= code < len(_NAMES) else "UNKNOWN"


#: State names by code; index -1 and len(_NAMES) (clipped out-of-range codes) are UNKNOWN.
_NAME_ARRAY = np.array([*_NAMES, "UNKNOWN", "UNKNOWN"], dtype=object)
_SUCCESS = (int(State.SUCCESS), int(State.CACHED))
_FAILURE = (int(State.FAILED), int(State.LOST))
_COMPUTED = (int(State.SUCCESS), int(State.FAILED))


@dataclass(frozen=True)
class PacketChange:
    """One packet that differs between the two runs (fields not relevant to its kind are None)."""

    tags: dict[str, str | None]  # every tag column of the node, null ones as None (as summary)
    from_state: str | None  # None: not in FROM (new)
    to_state: str | None  # None: not in TO (missing)
    from_error: str | None = None  # FAILED: its error; LOST: why its run is not live
    to_error: str | None = None
    from_s: float | None = None  # duration in FROM, seconds
    to_s: float | None = None


@dataclass(frozen=True)
class NodeDiff:
    """One node's changes between the two runs."""

    identity: tuple[str, ...]
    name: str
    regressed: tuple[PacketChange, ...] = ()
    fixed: tuple[PacketChange, ...] = ()
    new: tuple[PacketChange, ...] = ()
    missing: tuple[PacketChange, ...] = ()
    slower: tuple[PacketChange, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything differs in this node."""
        return bool(self.regressed or self.fixed or self.new or self.missing or self.slower)

    def to_json(self) -> dict[str, Any]:
        """The node's part of the ``"diff"`` JSON (README shape)."""
        return {
            "name": self.name,
            "identity": list(self.identity),
            "regressed": [
                {"tags": c.tags, "from": c.from_state, "to": c.to_state, "error": c.to_error}
                for c in self.regressed
            ],
            "fixed": [{"tags": c.tags, "from": c.from_state, "to": c.to_state} for c in self.fixed],
            "new": [{"tags": c.tags, "state": c.to_state} for c in self.new],
            "missing": [{"tags": c.tags, "state": c.from_state} for c in self.missing],
            "slower": [
                {"tags": c.tags, "from_s": _round(c.from_s), "to_s": _round(c.to_s)}
                for c in self.slower
            ],
        }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


@dataclass(frozen=True)
class RunDiff:
    """The diff of two runs of one pipeline: every node that has packets in either run."""

    pipeline: tuple[str, ...]
    from_run: str
    to_run: str
    nodes: tuple[NodeDiff, ...]

    @property
    def regressed(self) -> int:
        """Packets that regressed, over all nodes (non-zero → ``summary --diff`` exits 1)."""
        return sum(len(n.regressed) for n in self.nodes)

    def totals(self) -> dict[str, int]:
        """Packets per kind of change, over all nodes."""
        kinds = ("regressed", "fixed", "new", "missing", "slower")
        return {k: sum(len(getattr(n, k)) for n in self.nodes) for k in kinds}

    def to_json(self) -> dict[str, Any]:
        """The value of ``"diff"`` in a pipeline's entry of ``summary --json``."""
        return {
            "from": self.from_run,
            "to": self.to_run,
            "nodes": [n.to_json() for n in self.nodes],
        }


class DiffError(ValueError):
    """Two runs that cannot be diffed as named; ``str()`` is a one-line message."""


# -- choosing the pair ----------------------------------------------------------------------------
def runs_of_node(packets: pa.Table) -> set[str]:
    """The runs a node has packets in."""
    if packets.num_rows == 0:
        return set()
    return {r for r in pc.unique(packets.column("run_id")).to_pylist() if r is not None}


def default_pair(inputs: PipelineInputs) -> tuple[str, str] | None:
    """(FROM, TO): the newest run and its newest earlier run sharing a node; None if none does."""
    if not inputs.runs:
        return None
    newest = inputs.runs[0]
    per_node = [runs_of_node(n.packets) for n in inputs.nodes]
    reached = [runs for runs in per_node if newest in runs]
    for older in inputs.runs[1:]:
        if any(older in runs for runs in reached):
            return older, newest
    return None


def choose_pair(
    inputs: PipelineInputs,
    from_run: str | None = None,
    to_run: str | None = None,
    *,
    known: Sequence[str] | None = None,
) -> tuple[str, str] | None:
    """The (FROM, TO) pair ``summary --diff [FROM [TO]]`` means for this pipeline.

    No FROM: :func:`default_pair`. FROM only: TO is the pipeline's newest run. Names are run ids
    or unique prefixes, resolved against ``known`` (default: this pipeline's runs); raises
    :class:`~orcatui.model.runids.RunIdError` or :class:`DiffError` with a one-line message.
    """
    if from_run is None:
        if to_run is not None:
            raise DiffError("TO given without FROM")
        return default_pair(inputs)
    candidates = list(inputs.runs if known is None else known)
    older = resolve_run_id(from_run, candidates)
    if to_run is None:
        if not inputs.runs:
            raise DiffError("the pipeline has no runs")
        newer = inputs.runs[0]
    else:
        newer = resolve_run_id(to_run, candidates)
    if older == newer:
        raise DiffError(f"FROM and TO are the same run ({older}): nothing to compare")
    return older, newer


# -- the diff -------------------------------------------------------------------------------------
def _one_run(packets: pa.Table, run_id: str) -> pa.Table:
    return packets.filter(pc.fill_null(pc.equal(packets.column("run_id"), run_id), False))


def _states(rows: pa.Table, lost: bool) -> np.ndarray:
    state = pc.fill_null(rows.column("state"), -1).to_numpy().astype(np.int64)
    state[(state < 0) | (state >= len(_NAMES))] = -1  # never produced by normalisation
    if lost:
        state = np.where(state == int(State.RUNNING), int(State.LOST), state)
    return state


def _durations(rows: pa.Table) -> np.ndarray:
    """Seconds from RUNNING to the final event of finished packets; NaN when unknown."""
    ts = rows.column("ts").to_numpy().astype(np.float64)
    running = pc.fill_null(rows.column("running_ts").cast(pa.float64()), np.nan).to_numpy()
    state = pc.fill_null(rows.column("state"), -1).to_numpy()
    d = (ts - running) / 1e6
    d[(state == int(State.RUNNING)) | (d < 0)] = np.nan
    return d


def _tags(rows: pa.Table, idx: np.ndarray) -> list[dict[str, str]]:
    cols = [c for c in rows.column_names if c.startswith(TAG_PREFIX)]
    if not len(idx):
        return []
    picked = rows.select(cols).take(pa.array(idx, pa.int64()))
    # Renamed in Arrow (names may repeat only if the columns did): dicts come out ready.
    return picked.rename_columns([c[len(TAG_PREFIX) :] for c in cols]).to_pylist()


def _texts(rows: pa.Table, idx: np.ndarray, column: str) -> list[str | None]:
    if not len(idx):
        return []
    return rows.column(column).take(pa.array(idx, pa.int64())).to_pylist()


def _sorted(idx: np.ndarray, keys: pa.Array) -> np.ndarray:
    """``idx`` ordered by the packets' keys, so output does not depend on arrival order."""
    if len(idx) < 2:
        return idx
    order = pc.sort_indices(keys.take(pa.array(idx, pa.int64()))).to_numpy()
    return idx[order]


def _error(state: int, error: str | None, lost_reason: str | None) -> str | None:
    if state == int(State.LOST):
        return lost_reason
    return error if state == int(State.FAILED) else None


def _errors(states: np.ndarray, errors: list[str | None], lost_reason: str | None) -> list:
    """:func:`_error` of many packets: the error of FAILED ones, the reason of LOST ones."""
    failed = (states == int(State.FAILED)).tolist()
    if lost_reason is None or not (states == int(State.LOST)).any():
        return [e if f else None for e, f in zip(errors, failed, strict=True)]
    lost = (states == int(State.LOST)).tolist()
    return [
        lost_reason if lo else (e if f else None)
        for e, f, lo in zip(errors, failed, lost, strict=True)
    ]


def _names(states: np.ndarray) -> list[str]:
    """:func:`_name` of many state codes."""
    return _NAME_ARRAY[np.clip(states, -1, len(_NAMES))].tolist()


def diff_node(
    node: NodeInput,
    from_run: str,
    to_run: str,
    lost: Mapping[str, str],
) -> NodeDiff:
    """One node's changes from ``from_run`` to ``to_run`` (``lost``: runs not live → reason)."""
    return _diff_rows(
        node,
        _one_run(node.packets, from_run),
        _one_run(node.packets, to_run),
        from_run,
        to_run,
        lost,
    )


def previous_run_of_node(node: NodeInput, runs: Sequence[str], run_id: str) -> str | None:
    """The newest run before ``run_id`` (``runs`` newest first) in which the node has packets."""
    if run_id not in runs:
        return None
    reached = runs_of_node(node.packets)
    older = runs[list(runs).index(run_id) + 1 :]
    return next((r for r in older if r in reached), None)


def regressed_keys(
    node: NodeInput, from_run: str, to_run: str, lost: Mapping[str, str]
) -> dict[str, str]:
    """The packets of ``to_run`` that regressed since ``from_run`` (success → failure, the
    rule of :func:`diff_node`): each one's key in ``to_run`` (``NodePackets``' ``key``, the
    display rows' ``key``) → its state in ``from_run`` (``SUCCESS`` or ``CACHED``).
    Vectorised; Python strings only for the regressed packets."""
    a, b = _one_run(node.packets, from_run), _one_run(node.packets, to_run)
    if a.num_rows == 0 or b.num_rows == 0:
        return {}
    sb_all = _states(b, to_run in lost)
    failing = _is(sb_all, _FAILURE)
    if not failing.any():
        return {}
    b = b.filter(pa.array(failing))
    in_a = pc.index_in(packet_keys(b, with_run=False), value_set=packet_keys(a, with_run=False))
    found = in_a.is_valid().to_numpy(zero_copy_only=False)
    bi = np.flatnonzero(found)
    ai = pc.drop_null(in_a).to_numpy().astype(np.int64)
    sa = _states(a, from_run in lost)[ai]
    hit = _is(sa, _SUCCESS)
    if not hit.any():
        return {}
    keys = b.column("key").take(pa.array(bi[hit], pa.int64())).to_pylist()
    return dict(zip(keys, (_name(int(x)) for x in sa[hit]), strict=True))


def _is(states: np.ndarray, codes: tuple[int, int]) -> np.ndarray:
    return (states == codes[0]) | (states == codes[1])


def _diff_rows(
    node: NodeInput,
    a: pa.Table,
    b: pa.Table,
    from_run: str,
    to_run: str,
    lost: Mapping[str, str],
) -> NodeDiff:
    ka = packet_keys(a, with_run=False)
    kb = packet_keys(b, with_run=False)
    in_b = pc.index_in(ka, value_set=kb)  # each FROM packet's row in TO, or null
    found = in_b.is_valid().to_numpy(zero_copy_only=False)
    ai = np.flatnonzero(found)
    bi = pc.drop_null(in_b).to_numpy().astype(np.int64)
    matched_b = np.zeros(b.num_rows, dtype=bool)
    matched_b[bi] = True
    missing = _sorted(np.flatnonzero(~found), ka)
    new = _sorted(np.flatnonzero(~matched_b), kb)
    lost_a, lost_b = lost.get(from_run), lost.get(to_run)
    sa_all, sb_all = _states(a, lost_a is not None), _states(b, lost_b is not None)
    sa, sb = sa_all[ai], sb_all[bi]
    regressed = _is(sa, _SUCCESS) & _is(sb, _FAILURE)
    fixed = _is(sa, _FAILURE) & _is(sb, _SUCCESS)
    da_all, db_all = _durations(a), _durations(b)
    da, db = da_all[ai], db_all[bi]
    with np.errstate(invalid="ignore"):
        slower = (
            (sa == sb) & _is(sa, _COMPUTED) & (db >= SLOWER_RATIO * da) & (db - da >= SLOWER_MIN_S)
        )

    def changes(mask: np.ndarray, with_times: bool = False) -> tuple[PacketChange, ...]:
        picked = np.flatnonzero(mask)
        if not len(picked):
            return ()
        ia, ib = ai[picked], bi[picked]
        if len(picked) > 1:
            order = pc.sort_indices(ka.take(pa.array(ia, pa.int64()))).to_numpy()
            ia, ib = ia[order], ib[order]
        tags = _tags(b, ib)
        fa, fb = sa_all[ia], sb_all[ib]
        ea = _errors(fa, _texts(a, ia, "error"), lost_a)
        eb = _errors(fb, _texts(b, ib, "error"), lost_b)
        na, nb = _names(fa), _names(fb)
        if with_times:
            ta, tb = da_all[ia].tolist(), db_all[ib].tolist()
        else:
            ta = tb = [None] * len(ia)
        return tuple(map(PacketChange, tags, na, nb, ea, eb, ta, tb))

    def alone(
        rows: pa.Table, idx: np.ndarray, states: np.ndarray, reason: str | None, older: bool
    ) -> tuple[PacketChange, ...]:
        if not len(idx):
            return ()
        tags = _tags(rows, idx)
        errors = _texts(rows, idx, "error")
        out = []
        for k, i in enumerate(idx):
            s = int(states[i])
            err = _error(s, errors[k], reason)
            if older:
                out.append(PacketChange(tags[k], _name(s), None, from_error=err))
            else:
                out.append(PacketChange(tags[k], None, _name(s), to_error=err))
        return tuple(out)

    return NodeDiff(
        node.identity,
        node.name,
        regressed=changes(regressed),
        fixed=changes(fixed),
        new=alone(b, new, sb_all, lost_b, older=False),
        missing=alone(a, missing, sa_all, lost_a, older=True),
        slower=changes(slower, with_times=True),
    )


def diff_runs(inputs: PipelineInputs, from_run: str, to_run: str) -> RunDiff:
    """The diff of two runs of a pipeline: every node with packets in either run, in tree order."""
    pair = pa.array([from_run, to_run], pa.string())
    nodes = []
    for node in inputs.nodes:
        if node.packets.num_rows == 0:
            continue
        which = pc.index_in(node.packets.column("run_id"), value_set=pair)
        side = pc.fill_null(which, -1).to_numpy(zero_copy_only=False)
        in_a, in_b = side == 0, side == 1
        if not (in_a.any() or in_b.any()):
            continue
        a, b = node.packets.filter(pa.array(in_a)), node.packets.filter(pa.array(in_b))
        nodes.append(_diff_rows(node, a, b, from_run, to_run, inputs.lost))
    return RunDiff(inputs.pipeline, from_run, to_run, tuple(nodes))


__all__ = [
    "SLOWER_MIN_S",
    "SLOWER_RATIO",
    "DiffError",
    "NodeDiff",
    "PacketChange",
    "RunDiff",
    "RunIdError",
    "choose_pair",
    "default_pair",
    "diff_lines",
    "diff_node",
    "diff_runs",
    "previous_run_of_node",
    "regressed_keys",
    "runs_of_node",
]


# -- plain text (``summary --diff``) --------------------------------------------------------------
#: At most this many packets of one kind are listed per node in the text form.
TEXT_LIMIT = 20


def _tag_text(tags: Mapping[str, str | None]) -> str:
    return " ".join(f"{k}={cell(v, 40)}" for k, v in tags.items() if v is not None) or "(no tags)"


def diff_lines(d: RunDiff, limit: int = TEXT_LIMIT) -> list[str]:
    """``d`` as plain text lines (untrusted text made inert, each kind cut at ``limit``)."""
    t = d.totals()
    lines = [
        f"diff {cell(d.from_run, 60)} → {cell(d.to_run, 60)}: "
        + ", ".join(f"{n} {kind}" for kind, n in t.items())
    ]
    for node in d.nodes:
        if not node.changed:
            continue
        lines.append(f"  {cell(node.name, 80)}")
        kinds: list[tuple[str, tuple[PacketChange, ...]]] = [
            ("regressed", node.regressed),
            ("fixed", node.fixed),
            ("new", node.new),
            ("missing", node.missing),
            ("slower", node.slower),
        ]
        for kind, items in kinds:
            if not items:
                continue
            lines.append(f"    {kind} ({len(items)})")
            for c in items[:limit]:
                tags = _tag_text(c.tags)
                if kind == "regressed":
                    error = f"  {cell(c.to_error, 120)}" if c.to_error else ""
                    lines.append(f"      {tags}  {c.from_state} → {c.to_state}{error}")
                elif kind == "fixed":
                    lines.append(f"      {tags}  {c.from_state} → {c.to_state}")
                elif kind == "new":
                    lines.append(f"      {tags}  {c.to_state}")
                elif kind == "missing":
                    lines.append(f"      {tags}  {c.from_state}")
                else:
                    lines.append(f"      {tags}  {c.from_s:.1f} s → {c.to_s:.1f} s")
            if len(items) > limit:
                lines.append(f"      … and {len(items) - limit} more")
    return lines
