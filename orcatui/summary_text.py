"""Plain-text rendering of the summary report (``orcatui summary`` without ``--json``).

No Textual and no Rich here: the summary command must start fast. Colour only on a terminal and
never when ``NO_COLOR`` is set; every value from a pipeline has control characters removed.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from orcatui.model.durations import format_duration
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


def render(report: dict[str, Any], stream: TextIO | None = None) -> str:
    """The report as text: one table of nodes per pipeline, then FAILED and LOST packets."""
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
            out.append(
                f"  run {inert(run['run_id'])}: {run['liveness']} ({inert(run['reason'])}), {when}"
            )
        else:
            out.append(f"  view: {inert(p['view'])}")
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
        for n in p["nodes"]:
            for f in n["failed"]:
                msg = _cut(inert(f["error_first_line"] or "(no message)"), _ERROR_WIDTH)
                out.append(
                    f"  {paint('FAILED', 'FAILED')} {inert(n['name'])} {_tags(f['tags'])}: {msg}"
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
