"""Small Textual-free rules behind the monitor screen's issue-10 keys and notifications:
which node the app opens on, the next sort, stepping through runs, and run events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orcatui.model.monitor import NodeInfo, NodeKey, PipelineInfo, Snapshot
from orcatui.model.severity import rank, worst_present
from orcatui.model.views import View

#: ``ViewState.sort`` value for "running longest" (see :mod:`orcatui.app.triage_source`).
RUNNING_LONGEST = "~running longest"


def node_severity(node: NodeInfo) -> int:
    """The rank of a node's worst state or flag (0 = LOST, the worst)."""
    worst = worst_present({**node.counts, "slow": node.slow})
    return rank(worst) if worst is not None else rank("")


def worst_node(snapshot: Snapshot) -> NodeKey | None:
    """The node the app opens on: the worst by the one severity order, the first on a tie."""
    best: tuple[int, int] | None = None
    found: NodeKey | None = None
    order = 0
    for p in snapshot.pipelines:
        for n in p.nodes:
            key = (node_severity(n), order)
            order += 1
            if best is None or key < best:
                best, found = key, n.key
    return found


def next_sort(current: tuple[str, bool] | None, fields: Sequence[str]) -> tuple[str, bool] | None:
    """The sort after ``current`` when cycling through the columns (then back to no sort)."""
    if not fields:
        return None
    if current is None or current[0] not in fields:
        return (fields[0], False)
    i = list(fields).index(current[0]) + 1
    return (fields[i], False) if i < len(fields) else None


def step_run(p: PipelineInfo, delta: int) -> View | None:
    """The view of the run ``delta`` places older (+) or newer (−) than the one shown, or
    None past either end. From the all-runs view, ``[`` goes to the newest run."""
    ids = [r.run_id for r in p.runs]
    if not ids:
        return None
    if p.view.all_runs or p.run is None or p.run.run_id not in ids:
        i = -1 if delta > 0 else len(ids)
    else:
        i = ids.index(p.run.run_id)
    j = i + delta
    if not 0 <= j < len(ids):
        return None
    return View() if j == 0 else View(run_id=ids[j])


@dataclass
class _Seen:
    run_id: str | None
    live: bool
    failed: int
    lost: int


class RunEvents:
    """Notifications when a followed run ends, dies (LOST appears) or has its first failure,
    and when a new run starts. The first snapshot only sets the baseline (no noise on start)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], _Seen] = {}

    def update(self, snapshot: Snapshot) -> list[tuple[str, str]]:
        """(message, severity) for what changed since the last snapshot."""
        out: list[tuple[str, str]] = []
        for p in snapshot.pipelines:
            run = p.run if not p.view.all_runs else None
            now = _Seen(
                run.run_id if run else None,
                bool(run and run.verdict.live),
                p.counts.get("FAILED", 0),
                p.counts.get("LOST", 0),
            )
            before = self._seen.get(p.name)
            self._seen[p.name] = now
            if before is None or run is None:
                continue
            name = p.display_name
            if before.run_id != now.run_id:
                if p.view.run_id is None:
                    text = f"{name}: new run {run.run_id} started ([ shows the one before)"
                    out.append((text, "information"))
                continue
            if before.live and not now.live:
                if now.lost:
                    why = run.verdict.reason
                    text = f"{name}: run {run.run_id} died — {now.lost} LOST ({why})"
                    out.append((text, "error"))
                else:
                    outcome = run.outcome or run.verdict.reason
                    sev = "warning" if now.failed else "information"
                    out.append((f"{name}: run {run.run_id} ended ({outcome})", sev))
            elif now.lost and not before.lost:
                out.append((f"{name}: run {run.run_id}: {now.lost} packets LOST", "error"))
            if now.failed and not before.failed:
                nodes = [n.name.title for n in p.nodes if n.counts.get("FAILED")]
                where = f" in {', '.join(nodes[:3])}" if nodes else ""
                out.append((f"{name}: run {run.run_id}: first failure{where}", "error"))
        return out
