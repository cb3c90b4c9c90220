"""``orcatui summary --diff [FROM [TO]]`` and run names typed as prefixes (``--run``).

The rules are in :mod:`orcatui.model.diff` and :mod:`orcatui.model.runids`; this module only
decides which runs the arguments name, per pipeline, and what the command prints and exits with.
No Textual and no Rich here (``summary`` starts fast).

Which pipelines get a diff:

- no FROM: every pipeline, its default pair (its newest run against its newest earlier run that
  shares a node); a pipeline with no such pair gets ``"diff": null``;
- FROM (and maybe TO): names are resolved (exact id, else unique prefix) against the runs of every
  pipeline; only the pipelines holding FROM are reported, TO defaults to that pipeline's newest
  run; a TO that is not a run of FROM's pipeline is a usage error.

The rest of each pipeline's entry describes the TO run (the view ``summary --run TO`` shows).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from orcatui import exitcodes

if TYPE_CHECKING:
    from orcatui.model.diff import RunDiff
    from orcatui.model.monitor import Monitor

Pipeline = tuple[str, ...]


class DiffUsageError(ValueError):
    """The diff arguments name no usable runs; ``str()`` is the one-line message."""


def all_run_ids(monitor: Monitor, now: float | None = None) -> list[str]:
    """Every run id of every pipeline, newest first (the order candidates are listed in)."""
    started: dict[str, float] = {}
    for pipeline, model in monitor.pipelines.items():
        for run_id in [*model.runs, *model.records]:
            t = monitor.run_started(pipeline, run_id)
            t = t if t is not None else 0.0
            started[run_id] = max(started.get(run_id, t), t)
    return sorted(started, key=lambda r: (started[r], r), reverse=True)


def resolve_run(monitor: Monitor, query: str) -> str:
    """The run ``query`` names (exact id or unique prefix) among all pipelines' runs.

    Raises :class:`~orcatui.model.runids.RunIdError` with a one-line message listing candidates.
    """
    from orcatui.model.runids import RunIdError, resolve_run_id

    try:
        return resolve_run_id(query, all_run_ids(monitor))
    except RunIdError as exc:  # "no run 'x' (runs: …)", as summary said before prefixes
        message = str(exc).replace("no run matches ", "no run ", 1)
        raise RunIdError(message, exc.candidates) from None


@dataclass
class DiffPlan:
    """What ``--diff`` compares: per pipeline reported, its (FROM, TO) pair or None."""

    pairs: dict[Pipeline, tuple[str, str] | None] = field(default_factory=dict)
    diffs: dict[Pipeline, RunDiff | None] = field(default_factory=dict)
    titles: dict[Pipeline, tuple[str, ...]] = field(default_factory=dict)


def _pipeline_runs(monitor: Monitor, pipeline: Pipeline) -> set[str]:
    model = monitor.pipelines[pipeline]
    return set(model.runs) | set(model.records)


def plan_diffs(
    monitor: Monitor, args: Sequence[str], now: float | None = None
) -> tuple[DiffPlan, dict[Pipeline, str | None]]:
    """Resolve ``--diff`` arguments and compute the diffs.

    Returns the plan and, per pipeline reported, the run its entry should show (TO; None: the
    default view). Raises :class:`DiffUsageError` or ``RunIdError`` for bad arguments.
    """
    from orcatui.model.diff import default_pair, diff_runs
    from orcatui.model.grid import pipeline_inputs

    now = monitor.clock() if now is None else now
    if len(args) > 2:
        raise DiffUsageError(f"--diff takes at most two runs (FROM TO), got {len(args)}")
    plan = DiffPlan()
    views: dict[Pipeline, str | None] = {}
    older = resolve_run(monitor, args[0]) if args else None
    newer = resolve_run(monitor, args[1]) if len(args) > 1 else None
    if older is not None and older == newer:
        raise DiffUsageError(f"FROM and TO are the same run ({older}): nothing to compare")
    for name in sorted(monitor.pipelines):
        runs = _pipeline_runs(monitor, name)
        if older is not None and older not in runs:
            continue
        if newer is not None and newer not in runs:
            continue
        inputs = pipeline_inputs(monitor, name, now)
        if older is None:
            pair = default_pair(inputs)
        else:
            to = newer if newer is not None else (inputs.runs[0] if inputs.runs else None)
            pair = None if to is None or to == older else (older, to)
        plan.pairs[name] = pair
        plan.titles[name] = monitor.pipeline_title(name)
        plan.diffs[name] = diff_runs(inputs, *pair) if pair is not None else None
        views[name] = pair[1] if pair is not None and older is not None else None
    if older is not None and not plan.pairs:
        raise DiffUsageError(f"runs {older} and {newer} are not runs of one pipeline")
    return plan, views


def diff_exit_code(plan: DiffPlan, errors: Sequence[str]) -> int:
    """1 when any packet regressed; else 4 when some data could not be read; else 0."""
    if any(d is not None and d.regressed for d in plan.diffs.values()):
        return exitcodes.FAILED
    if errors:
        return exitcodes.UNREADABLE
    return exitcodes.OK


def render_diff_text(report: dict, plan: DiffPlan, stream: TextIO | None = None) -> str:
    """The text form: per pipeline its name, then the diff (or why there is none), warnings."""
    from orcatui.model.diff import diff_lines
    from orcatui.summary_text import paint_diff_line
    from orcatui.text import inert

    stream = stream or sys.stdout
    out: list[str] = []
    for pipeline, d in plan.diffs.items():
        title = plan.titles.get(pipeline, pipeline)
        out.append(f"pipeline {'/'.join(inert(x) for x in title) or '(unnamed)'}")
        if d is None:
            out.append("  no earlier run sharing a node: nothing to compare")
        else:
            out.extend(paint_diff_line("  " + line, stream) for line in diff_lines(d))
        out.append("")
    for err in report["errors"]:
        out.append(f"warning: {inert(err)}")
    return "\n".join(out).rstrip() + "\n"


def summary_diff(args: object, monitor: Monitor, problems: list[str]) -> int:
    """``orcatui summary ROOT --diff [FROM [TO]] [--json [--pretty]]``: print, return exit code."""
    import json

    from orcatui.model.report import build_report
    from orcatui.model.runids import RunIdError
    from orcatui.text import inert

    now = monitor.clock()
    try:
        plan, views = plan_diffs(monitor, list(args.diff), now)  # type: ignore[attr-defined]
    except (RunIdError, DiffUsageError) as exc:
        sys.stderr.write(f"orcatui: {inert(str(exc))}\n")
        return exitcodes.USAGE
    report = build_report(monitor, now=now, problems=problems, diffs=plan.diffs, diff_views=views)
    if args.json:  # type: ignore[attr-defined]
        for err in report["errors"]:
            sys.stderr.write(f"orcatui: warning: {inert(err)}\n")
        pretty = args.pretty  # type: ignore[attr-defined]
        text = json.dumps(
            report,
            indent=2 if pretty else None,
            separators=None if pretty else (",", ":"),
            ensure_ascii=False,
        )
        sys.stdout.write(text + "\n")
    else:
        sys.stdout.write(render_diff_text(report, plan, sys.stdout))
    return diff_exit_code(plan, report["errors"])
