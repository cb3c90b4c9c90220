"""How model values look on screen: state colours and markers, count bars, times, liveness."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.style import Style
from rich.text import Text

from orcatui.model.durations import format_duration
from orcatui.model.runs import Certainty, Liveness, Verdict
from orcatui.model.states import SHOWN_STATES

STATE_MARK: dict[str, str] = {
    "SUCCESS": "✓",
    "CACHED": "↺",
    "FAILED": "✗",
    "RUNNING": "▸",
    "LOST": "⊘",
}
#: The theme variable each state's colour comes from (``state-lost`` is the app's own variable,
#: see :data:`THEME_DEFAULTS`); FAILED and LOST are also bold.
STATE_VARIABLE: dict[str, str] = {
    "SUCCESS": "text-success",
    "CACHED": "text-primary",
    "FAILED": "text-error",
    "RUNNING": "text-warning",
    "LOST": "state-lost",
}
#: The app's own theme variables, for a dark and a light theme (a theme may override them).
THEME_DEFAULTS = {True: {"state-lost": "#B48CFF"}, False: {"state-lost": "#6A32B5"}}


@dataclass(frozen=True)
class Palette:
    """One colour per state and per liveness, taken from the current theme."""

    states: dict[str, Style]
    liveness: dict[Liveness, Style]

    def state(self, state: str) -> Style:
        """The style of a state (plain for an unknown one)."""
        return self.states.get(state, Style())

    def plain(self, state: str) -> Style:
        """The state's colour without emphasis (bars, error text)."""
        return Style(color=self.state(state).color)


def palette_from(variables: Mapping[str, str], *, dark: bool = True) -> Palette:
    """The palette of a theme, from its CSS variables (``App.get_css_variables()``)."""
    defaults = THEME_DEFAULTS[dark]
    states = {}
    for state, var in STATE_VARIABLE.items():
        colour = variables.get(var) or defaults.get(var) or "default"
        states[state] = Style(color=colour, bold=state in ("FAILED", "LOST"))
    liveness = {
        Liveness.LIVE: states["SUCCESS"] + Style(bold=True),
        Liveness.ENDED: states["CACHED"],
        Liveness.DEAD: states["FAILED"],
        Liveness.OVER: Style(dim=True),
    }
    return Palette(states, liveness)


#: The palette of Textual's default dark theme (what tests and tools without an app use).
DEFAULT_PALETTE = palette_from(
    {
        "text-success": "#8AD4A1",
        "text-error": "#D17E92",
        "text-warning": "#FFC473",
        "text-primary": "#57A5E2",
    }
)
BAR_ORDER = ("SUCCESS", "CACHED", "RUNNING", "LOST", "FAILED")


def pipeline_label(name: tuple[str, ...], root: Path | str) -> str:
    """A pipeline's name as shown: its folder path, or the root's folder name for a store whose
    ``_status`` sits directly under the root (no pipeline folder)."""
    if name:
        return "/".join(name)
    if isinstance(root, str):  # an object-storage URL: its last path segment
        return root.rstrip("/").rsplit("/", 1)[-1] or root
    return root.absolute().name or str(root)


def palette_of(app: object) -> Palette:
    """The palette of a running app (the default one outside an app)."""
    found = getattr(app, "palette", None)
    return found if isinstance(found, Palette) else DEFAULT_PALETTE


def state_text(state: str, palette: Palette = DEFAULT_PALETTE) -> Text:
    """A state cell: marker and name in the state's colour."""
    return Text(f"{STATE_MARK.get(state, '?')} {state}", style=palette.state(state))


def count_bar(counts: dict[str, int], width: int = 8, palette: Palette = DEFAULT_PALETTE) -> Text:
    """A small bar split by state; any FAILED/LOST packet gets at least one cell."""
    total = sum(counts.get(s, 0) for s in SHOWN_STATES)
    bar = Text()
    if total == 0:
        return Text("·" * width, style="dim")
    cells = {s: counts.get(s, 0) * width / total for s in BAR_ORDER}
    alloc = {s: int(v) for s, v in cells.items()}
    for s in ("FAILED", "LOST"):
        if counts.get(s, 0) and alloc[s] == 0:
            alloc[s] = 1
    # Hand out the remaining cells by largest remainder.
    rest = width - sum(alloc.values())
    for s in sorted(BAR_ORDER, key=lambda s: cells[s] - int(cells[s]), reverse=True):
        if rest <= 0:
            break
        if counts.get(s, 0):
            alloc[s] += 1
            rest -= 1
    while sum(alloc.values()) > width:
        big = max(alloc, key=lambda s: alloc[s])
        alloc[big] -= 1
    for s in BAR_ORDER:
        if alloc[s]:
            bar.append("█" * alloc[s], style=palette.plain(s))
    return bar


def counts_text(
    counts: dict[str, int], *, compact: bool = False, palette: Palette = DEFAULT_PALETTE
) -> Text:
    """Total, then FAILED / LOST / RUNNING counts that stand out (zeros left out)."""
    total = sum(counts.get(s, 0) for s in SHOWN_STATES)
    out = Text(str(total), style="bold")
    for s, label in (("FAILED", "failed"), ("LOST", "lost"), ("RUNNING", "running")):
        n = counts.get(s, 0)
        if n:
            out.append(" ")
            word = STATE_MARK[s] if compact else f" {label}"
            out.append(f"{n}{word}", style=palette.state(s))
    return out


def clock_time(epoch: float | None, *, with_date: bool = False) -> str:
    """Local wall-clock time of an epoch, ``HH:MM:SS`` (optionally with the date)."""
    if epoch is None:
        return "—"
    fmt = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return time.strftime(fmt, time.localtime(epoch))


def started_cell(started_us: int | None, now: float) -> str:
    """A start time for the table: time of day, with the date when not today."""
    if started_us is None:
        return ""
    epoch = started_us / 1e6
    same_day = time.localtime(epoch)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M", time.localtime(epoch))


def verdict_text(verdict: Verdict | None, palette: Palette = DEFAULT_PALETTE) -> Text:
    """``● liveness · reason · certainty``: the word in its colour, the rest dim.

    The certainty is left out where it adds nothing: a run that said it ended, a fresh heartbeat.
    """
    if verdict is None:
        return Text("no run", style="dim")
    out = Text()  # no base style: only the word takes the liveness colour
    out.append(f"● {verdict.liveness.value}", style=palette.liveness[verdict.liveness])
    parts = [verdict.shown_reason]
    obvious = verdict.certainty is Certainty.CERTAIN and verdict.liveness in (
        Liveness.ENDED,
        Liveness.LIVE,
    )
    if not obvious:
        parts.append(verdict.certainty.value)
    for part in parts:
        if part:
            out.append(" · ", style="dim")
            out.append(part, style="dim")
    return out


def duration_cell(seconds: float | None) -> str:
    """A duration cell (age for RUNNING)."""
    return format_duration(seconds)
