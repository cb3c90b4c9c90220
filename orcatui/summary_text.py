"""Plain-text rendering of the summary report (``orcatui summary`` without ``--json``).

No Textual and no Rich here: the summary command must start fast. Colour only on a terminal and
never when ``NO_COLOR`` is set; every value from a pipeline has control characters removed.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from orcatui.model.durations import format_duration
from orcatui.model.runs import Liveness, shown_reason
from orcatui.model.states import SHOWN_STATES
from orcatui.text import inert

_COLOURS = {"FAILED": "31;1", "LOST": "35;1", "RUNNING": "33", "SUCCESS": "32", "CACHED": "36"}
_ERROR_WIDTH = 100


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal and when ``NO_COLOR`` is not set."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


class _Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, state: str) -> str:
        if not self.colour or state not in _COLOURS:
            return text
        return f"\x1b[{_COLOURS[state]}m{text}\x1b[0m"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _tags(tags: dict[str, Any]) -> str:
    return " ".join(f"{inert(k)}={inert(v)}" for k, v in tags.items())


def _eta(eta: list[float] | None) -> str:
    """``~6m (4–9m)`` from a JSON ``eta_s`` pair, ``?`` when unknown."""
    from orcatui.model.progress import Progress, format_eta

    if eta is None:
        return "?"
    return format_eta(Progress(0, None, None, None, (eta[0], eta[1])))


def run_state(run: dict[str, Any]) -> str:
    """A JSON run's verdict as words: ``live (heartbeat fresh)``, ``ended (interrupted)`` (the
    reason not repeating the liveness word: :func:`runs.shown_reason`, as the app's header)."""
    liveness = run["liveness"]
    try:
        why = shown_reason(Liveness(liveness), run["reason"])
    except ValueError:  # a liveness this version does not know: its reason as it is
        why = run["reason"]
    return f"{inert(liveness)} ({inert(why)})" if why else inert(liveness)


def progress_line(progress: dict[str, Any] | None, live: bool = True) -> str | None:
    """``progress 77/200 (declared) · 12.0/min · ETA ~6m (4–9m)`` for a pipeline's run; only
    ``progress 77/200`` for a run that can write no more (rate and ETA mean nothing there,
    and the app's header leaves them out too)."""
    if progress is None:
        return None
    expected = progress["expected"]
    text = f"progress {progress['done']}/{expected if expected is not None else '?'}"
    if expected:
        text += f" {100 * min(progress['done'] / expected, 1):.0f}%"
    if progress["expected_from"]:
        text += f" (expected from the {progress['expected_from']})"
    if not live:
        return text
    if progress["rate_per_min"] is not None:
        text += f" · {progress['rate_per_min']:g}/min"
    return text + f" · ETA {_eta(progress['eta_s'])}"


def group_line(group: dict[str, Any]) -> str:
    """``120 × FileNotFoundError: No such file …: <path>  [load ×80, fit ×40]``."""
    nodes = ", ".join(f"{inert(n)} ×{c}" for n, c in group["nodes"].items())
    return f"{group['count']} × {_cut(inert(group['signature']), _ERROR_WIDTH)}  [{nodes}]"


def render(
    report: dict[str, Any], stream: TextIO | None = None, *, all_failed: bool = False
) -> str:
    """The report as text: one table of nodes per pipeline, then error groups (or every FAILED
    packet with ``all_failed``), slow and LOST packets."""
    stream = stream or sys.stdout
    paint = _Painter(use_colour(stream))
    out: list[str] = []
    if report.get("as_of"):
        out.append(
            f"HISTORICAL: the state as of {report['as_of']} "
            "(events after it ignored; liveness judged as of then)"
        )
        out.append("")
    for p in report["pipelines"]:
        run = p["run"]
        name = "/".join(inert(x) for x in p["name"]) or "(unnamed)"
        out.append(f"pipeline {name}")
        if run:
            when = f"started {run['started'] or '?'}"
            if run["ended"]:
                when += f", ended {run['ended']}"
            out.append(f"  run {inert(run['run_id'])}: {run_state(run)}, {when}")
        else:
            out.append(f"  view: {inert(p['view'])}")
        live = bool(run) and run["liveness"] == Liveness.LIVE.value
        line = progress_line(p.get("progress"), live)
        if line:
            out.append(f"  {line}")
        rows = [["node", *SHOWN_STATES, "median", "max"]]
        for n in p["nodes"]:
            title = inert(n["name"])
            if n["short_identity"]:
                title += f" [{inert(n['short_identity'])}]"
            rows.append(
                [
                    title,
                    *[str(n["counts"][s]) for s in SHOWN_STATES],
                    format_duration(n["duration_median_s"]),
                    format_duration(n["duration_max_s"]),
                ]
            )
        rows.append(["total", *[str(p["counts"][s]) for s in SHOWN_STATES], "", ""])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for ri, r in enumerate(rows):
            cells = []
            for i, cell in enumerate(r):
                text = cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                state = rows[0][i]
                if ri > 0 and state in ("FAILED", "LOST") and cell not in ("0", ""):
                    text = paint(text, state)
                cells.append(text)
            out.append("  " + "  ".join(cells).rstrip())
        groups = p.get("error_groups")
        if groups is not None and not all_failed:
            for g in groups:
                out.append(f"  {paint('FAILED', 'FAILED')} {group_line(g)}")
        for n in p["nodes"]:
            if groups is None or all_failed:
                for f in n["failed"]:
                    msg = _cut(inert(f["error_first_line"] or "(no message)"), _ERROR_WIDTH)
                    out.append(
                        f"  {paint('FAILED', 'FAILED')} {inert(n['name'])} {_tags(f['tags'])}: "
                        f"{msg}"
                    )
            for slow in n.get("slow") or ():
                out.append(
                    f"  {paint('SLOW', 'RUNNING')}   {inert(n['name'])} {_tags(slow['tags'])}: "
                    f"running {format_duration(slow['running_for_s'])}, typical "
                    f"{format_duration(slow['typical_s'])}"
                )
            for lost in n["lost"]:
                out.append(
                    f"  {paint('LOST', 'LOST')}   {inert(n['name'])} {_tags(lost['tags'])}: "
                    f"{inert(lost['reason'])}"
                )
        out.append("")
    for err in report["errors"]:
        out.append(f"warning: {inert(err)}")
    return "\n".join(out).rstrip() + "\n"


def paint_diff_line(line: str, stream: TextIO | None = None) -> str:
    """A ``summary --diff`` text line, coloured on a terminal (regressions red, fixes green)."""
    if not use_colour(stream or sys.stdout):
        return line
    if "→ FAILED" in line or "→ LOST" in line:
        return f"\x1b[{_COLOURS['FAILED']}m{line}\x1b[0m"
    if "→ SUCCESS" in line or "→ CACHED" in line:
        return f"\x1b[{_COLOURS['SUCCESS']}m{line}\x1b[0m"
    return line
