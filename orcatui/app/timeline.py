"""The timeline screen (key ``T``): a run's packets as bars over time (issue 13, item 2).

One lane per node (bars, or per-column density when the packets do not fit), a concurrency line
(packets in flight), the time axis in UTC and the moment of death of a dead run. The rules are
:mod:`orcatui.model.timeline`; this screen lays them out at its width and draws them.

Keys: ←/→ move the cursor a column (h/l too), ↑/↓ a lane (k/j), ``+``/``-`` zoom in/out around
the cursor, ``shift+←``/``shift+→`` (or ``H``/``L``) pan, ``0`` the whole run, Enter opens the
packet under the cursor (the worst one when a column holds several), Escape goes back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from orcatui.app.footer import KeyFooter
from orcatui.app.render import DEFAULT_PALETTE, Palette, palette_of, verdict_text
from orcatui.app.sanitize import cell
from orcatui.model.durations import format_duration
from orcatui.model.monitor import NodeKey
from orcatui.model.naming import NodeName
from orcatui.model.timeline import (
    BAR_CHAR,
    BAR_STATES,
    DEATH_CHAR,
    LEVELS,
    RunTimeline,
    TimelineLayout,
    Window,
    full_window,
    layout,
    packets_in_column,
)
from orcatui.model.views import View

LABEL_WIDTH = 16
#: A lane draws its packets as bars on up to this many rows, else as density.
MAX_TRACKS = 8
#: Zoom factor of one ``+`` / ``-``.
ZOOM = 2.0
#: Pan step, as a fraction of the window.
PAN = 0.25
_SEVERITY = {s: i for i, s in enumerate(BAR_STATES)}


@dataclass(frozen=True)
class TimelineData:
    """A run's timeline and the names of its lanes' nodes (built on the model thread)."""

    timeline: RunTimeline
    names: dict[NodeKey, NodeName]
    historical: float | None = None  # the moment shown, when the view is historical


#: Opens a packet: (node, view, display row, node name).
Opener = Callable[[NodeKey, View, dict, NodeName], None]


def draw(lay: TimelineLayout, cursor: tuple[int, int] | None, palette: Palette) -> Text:
    """The lanes, the concurrency line and the axis as styled text (titles sanitised)."""
    w = lay.width
    out = Text(no_wrap=True, overflow="crop")
    pad = " " * (LABEL_WIDTH + 1)
    for li, lane in enumerate(lay.lanes):
        grid: list[list[tuple[str, str | None]]]
        if lane.mode == "bars":
            grid = [[(" ", None)] * w for _ in range(lane.tracks)]
            for seg in lane.segments:
                for c in range(seg.col0, seg.col1 + 1):
                    grid[seg.track][c] = (BAR_CHAR[seg.state], seg.state)
        else:
            top = max(lane.density, default=0.0) or 1.0
            row = []
            for d, worst, n in zip(lane.density, lane.worst, lane.touching, strict=True):
                if worst in ("FAILED", "LOST"):
                    row.append((BAR_CHAR[worst], worst))
                elif n == 0:
                    row.append((" ", None))
                else:
                    row.append((LEVELS[max(1, min(8, round(d / top * 8)))], worst))
            grid = [row]
        title = cell(lane.title, LABEL_WIDTH)
        for ti, row in enumerate(grid):
            label = title if ti == 0 else ""
            out.append(f"{label:<{LABEL_WIDTH}} ", style="bold" if ti == 0 else "")
            out.append("│", style="dim")
            for c, (ch, state) in enumerate(row):
                style = palette.plain(state) if state else Style()
                if cursor == (li, c):
                    style = style + Style(reverse=True)
                    ch = ch if ch != " " else "·"
                out.append(ch, style=style)
            out.append("│\n", style="dim")
    top = max(lay.concurrency, default=0.0) or 1.0
    out.append(f"{'in flight':<{LABEL_WIDTH}} ", style="italic")
    out.append("│", style="dim")
    conc = "".join(
        LEVELS[max(1, min(8, round(c / top * 8)))] if c > 0 else " " for c in lay.concurrency
    )
    out.append(conc, style="bold")
    out.append(f"│ peak {max(lay.peak, default=0)}\n", style="dim")
    axis = ["─"] * w
    for col, _ in lay.ticks:
        axis[col] = "┬"
    out.append(f"{pad}└", style="dim")
    for c, ch in enumerate(axis):
        if lay.death_col is not None and c == lay.death_col:
            out.append(DEATH_CHAR, style=palette.state("FAILED"))
        elif cursor is not None and c == cursor[1]:
            out.append("▲", style="bold")
        else:
            out.append(ch, style="dim")
    out.append("┘\n", style="dim")
    labels = [" "] * (w + 2)
    for col, text in lay.ticks:
        if col + 1 + len(text) <= len(labels):
            labels[col + 1 : col + 1 + len(text)] = list(text)
    out.append(pad + "".join(labels).rstrip() + " UTC", style="dim")
    return out


class TimelineView(Widget, can_focus=True):
    """The drawing: recomputes the layout when its width, window or data change."""

    DEFAULT_CSS = "TimelineView { height: auto; }"

    def __init__(self, data: TimelineData, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.data = data
        self.window: Window = full_window(data.timeline)
        self.cursor: tuple[int, int] = (0, 0)
        self._lay: TimelineLayout | None = None
        self._key: tuple | None = None

    @property
    def plot_width(self) -> int:
        """Columns for the bars (the widget's width minus the labels and frame)."""
        return max(10, self.size.width - LABEL_WIDTH - 3 - 8)

    def current_layout(self) -> TimelineLayout:
        """The layout at the current width and window (cached)."""
        key = (self.plot_width, self.window)
        if self._lay is None or self._key != key:
            self._lay = layout(
                self.data.timeline, self.plot_width, self.window, max_tracks=MAX_TRACKS
            )
            self._key = key
        return self._lay

    def get_content_height(self, container, viewport, width: int) -> int:
        """Lane rows, the concurrency line and the two axis lines."""
        lay = self.current_layout()
        return sum(lane.tracks if lane.mode == "bars" else 1 for lane in lay.lanes) + 3

    def render(self) -> Text:
        """Draw with the theme's state colours."""
        lay = self.current_layout()
        lane, col = self.cursor
        col = min(col, lay.width - 1)
        self.cursor = (min(lane, max(0, len(lay.lanes) - 1)), col)
        cur = self.cursor if lay.lanes else None
        return draw(lay, cur, palette_of(self.app) if self.is_attached else DEFAULT_PALETTE)

    def cursor_time_us(self) -> int:
        """The middle of the cursor's column."""
        lay = self.current_layout()
        span = self.window.span_us
        return self.window.start_us + round((self.cursor[1] + 0.5) * span / lay.width)

    def packet_at_cursor(self) -> tuple[int, int] | None:
        """(lane, row) of the packet under the cursor: the worst (then latest) in the column."""
        lay = self.current_layout()
        lane, col = self.cursor
        if not lay.lanes:
            return None
        rows = packets_in_column(self.data.timeline, lane, self.window, lay.width, col)
        if len(rows) == 0:
            return None
        states = self.data.timeline.lanes[lane].state[rows]
        starts = self.data.timeline.lanes[lane].start_us[rows]
        best = np.lexsort((starts, states))[-1]
        return lane, int(rows[best])


class TimelineScreen(Screen[None]):
    """A run's timeline, full screen."""

    DEFAULT_CSS = """
    #timeline-title, #timeline-status {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    #timeline-title { background: $panel; }
    #timeline-status { background: $boost; }
    """

    BINDINGS = [  # noqa: RUF012
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("enter", "open", "Open packet"),
        Binding("plus,equals_sign", "zoom(1)", "Zoom in"),
        Binding("minus", "zoom(-1)", "Zoom out"),
        Binding("0", "reset", "Whole run"),
        Binding("left,h", "move(0,-1)", "Left", show=False),
        Binding("right,l", "move(0,1)", "Right", show=False),
        Binding("up,k", "move(-1,0)", "Up", show=False),
        Binding("down,j", "move(1,0)", "Down", show=False),
        Binding("shift+left,H", "pan(-1)", "Pan back"),
        Binding("shift+right,L", "pan(1)", "Pan forward"),
    ]

    def __init__(self, data: TimelineData, opener: Opener) -> None:
        super().__init__()
        self.data = data
        self.opener = opener

    def compose(self) -> ComposeResult:
        """Title line, the timeline, a status line, the footer."""
        yield Static(id="timeline-title")
        yield TimelineView(self.data, id="timeline")
        yield Static(id="timeline-status")
        yield KeyFooter()

    @property
    def view(self) -> TimelineView:
        """The drawing widget."""
        return self.query_one(TimelineView)

    def on_mount(self) -> None:
        """Title, status; focus the drawing."""
        self._title()
        self.view.focus()
        self.call_after_refresh(self._status)

    def on_resize(self) -> None:
        """The layout follows the width."""
        self.call_after_refresh(self._status)

    def _title(self) -> None:
        tl = self.data.timeline
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(" timeline ", style="bold reverse")
        if self.data.historical is not None:
            when = datetime.fromtimestamp(self.data.historical, UTC).strftime("%H:%M:%S")
            out.append(" ")
            out.append(f" AS OF {when} ", style="bold reverse")
        out.append(f"  {cell('/'.join(tl.pipeline), 40)}", style="bold")
        out.append(f"  ›  run {cell(tl.run_id, 40)}  ")
        if tl.verdict is not None:
            out.append_text(verdict_text(tl.verdict, palette_of(self.app)))
        out.append(f"  │  {tl.packets:,} packets")
        self.query_one("#timeline-title", Static).update(out)

    def _status(self) -> None:
        v = self.view
        lay = v.current_layout()
        out = Text(no_wrap=True, overflow="ellipsis")
        at = datetime.fromtimestamp(v.cursor_time_us() / 1e6, UTC).strftime("%H:%M:%S")
        out.append(f" cursor {at} UTC", style="bold")
        out.append(f"  │  window {format_duration(v.window.span_us / 1e6)}")
        out.append(f" in {lay.width} columns")
        if lay.lanes:
            lane = lay.lanes[v.cursor[0]]
            col = v.cursor[1]
            out.append(f"  │  {cell(lane.title, 30)}: {lane.touching[col]} packet(s) here")
            if lane.mode == "density":
                out.append(" (density: too many to draw one by one)", style="dim")
        if self.data.timeline.death_us is not None:
            when = datetime.fromtimestamp(self.data.timeline.death_us / 1e6, UTC)
            out.append(f"  │  {DEATH_CHAR} died {when.strftime('%H:%M:%S')} UTC", style="bold")
        self.query_one("#timeline-status", Static).update(out)

    def _redraw(self) -> None:
        self.view.refresh(layout=True)
        self._status()

    def action_move(self, lanes: int, cols: int) -> None:
        """Move the cursor; at the window's edge, pan."""
        v = self.view
        lay = v.current_layout()
        lane = min(max(0, v.cursor[0] + lanes), max(0, len(lay.lanes) - 1))
        col = v.cursor[1] + cols
        if col < 0 or col >= lay.width:
            self.action_pan(-1 if col < 0 else 1)
            col = min(max(0, col), lay.width - 1)
        v.cursor = (lane, col)
        self._redraw()

    def action_zoom(self, direction: int) -> None:
        """Zoom in (1) or out (-1) around the cursor."""
        v = self.view
        outer = full_window(self.data.timeline)
        factor = ZOOM if direction > 0 else 1 / ZOOM
        center = v.cursor_time_us()
        win = v.window.zoom(factor, center)
        if win.span_us < 1000:  # a millisecond across is as close as it gets
            return
        v.window = win.clamp(outer) if win.span_us <= outer.span_us else outer
        lay = v.current_layout()
        # Keep the cursor on the same moment.
        col = int(np.clip((center - v.window.start_us) * lay.width // v.window.span_us, 0, 10**9))
        v.cursor = (v.cursor[0], min(col, lay.width - 1))
        self._redraw()

    def action_pan(self, direction: int) -> None:
        """Move the window back (-1) or forward (1) by a quarter of its width."""
        v = self.view
        v.window = v.window.pan(PAN * direction).clamp(full_window(self.data.timeline))
        self._redraw()

    def action_reset(self) -> None:
        """The whole run."""
        self.view.window = full_window(self.data.timeline)
        self._redraw()

    def action_open(self) -> None:
        """Open the packet under the cursor (details)."""
        found = self.view.packet_at_cursor()
        if found is None:
            self.app.notify("no packet here", severity="warning")
            return
        lane_i, row_i = found
        lane = self.data.timeline.lanes[lane_i]
        row = lane.rows.slice(row_i, 1).to_pylist()[0]
        name = self.data.names.get(lane.key)
        if name is not None:
            self.opener(lane.key, View(run_id=self.data.timeline.run_id), row, name)
