"""The runs × nodes grid screen (key ``H``): every run of a pipeline side by side.

Rows are the pipeline's nodes in tree order, columns its runs, newest on the left, as many as fit
(the view slides sideways with the cursor). Each cell is a compact bar coloured by the worst state
of the node's packets in that run (LOST > FAILED > slow > RUNNING > CACHED > SUCCESS): solid for
the share of packets in that worst state, shaded for the rest; ``·`` where the node did not run.
``n`` shows counts instead of bars. The line under the grid describes the cursor's run (start,
outcome, liveness, counts) and cell. Enter opens that run with that node selected; ``m`` marks a
run and ``d`` diffs the marked run against the cursor's (default: the newest against the one
before it). The grid is computed on the model thread (:mod:`orcatui.model.grid`); a new frame
recounts only the newest column.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from orcatui.app.footer import KeyFooter
from orcatui.app.render import STATE_MARK, clock_time, palette_of, verdict_text
from orcatui.app.sanitize import cell
from orcatui.model.durations import format_duration
from orcatui.model.grid import CELL_STATES, Grid, GridBuilder, pipeline_inputs, slow_counts
from orcatui.model.runids import shortest_unique_prefixes

if TYPE_CHECKING:
    from orcatui.model.monitor import Monitor, RunInfo

Pipeline = tuple[str, ...]
Identity = tuple[str, ...]
#: Characters of one cell's bar, and the gap after it.
CELL_W = 5
GAP = 1
#: The node-name column's width limits.
NAME_MIN, NAME_MAX = 8, 28
#: Lines above the first node row (the two-line run header).
HEAD = 2
#: The colour a cell takes per worst state (``slow`` is a RUNNING packet: RUNNING's colour).
_COLOUR_OF = {"slow": "RUNNING"}
_MARK = {**STATE_MARK, "slow": "⧗"}


@dataclass(frozen=True)
class GridData:
    """A computed grid with what the cursor line needs: each run's info and short id."""

    grid: Grid
    infos: tuple[Any, ...]  # RunInfo per column, newest first
    short: dict[str, str]  # run id → unique prefix


def compute_grid(
    monitor: Monitor,
    pipeline: Pipeline,
    now: float,
    builder: GridBuilder,
    previous: Grid | None,
) -> GridData | None:
    """The pipeline's grid (None if the pipeline is gone); runs on the model thread."""
    if pipeline not in monitor.pipelines:
        return None
    verdicts = monitor.verdicts(pipeline, now)
    infos = monitor.run_infos(pipeline, now, verdicts)
    inputs = pipeline_inputs(monitor, pipeline, now, run_infos=infos)
    slow = slow_counts(monitor, pipeline, now, verdicts)
    if previous is not None and previous.pipeline == pipeline:
        grid = builder.update_newest(previous, inputs, slow)
    else:
        grid = builder.build(inputs, slow)
    return GridData(grid, tuple(infos), shortest_unique_prefixes(grid.runs, 6))


def cell_text(counts: Any, worst: int, show_counts: bool) -> tuple[str, str | None]:
    """A cell's text and the state it is coloured by (None: the node did not run)."""
    if worst < 0:
        return "·".center(CELL_W), None
    name = CELL_STATES[worst]
    n = int(counts[worst])
    total = int(sum(int(counts[k]) for k, s in enumerate(CELL_STATES) if s != "slow"))
    if show_counts:
        text = f"{n}{_MARK.get(name, '?')}" if name not in ("SUCCESS",) else str(total)
        return (text if len(text) <= CELL_W else f"{n // 1000}k").rjust(CELL_W), name
    solid = max(1, round(CELL_W * n / total)) if total else CELL_W
    return "█" * min(solid, CELL_W) + "▒" * (CELL_W - min(solid, CELL_W)), name


class GridView(Widget, can_focus=True):
    """The grid itself: a two-line run header, then one line per node (Line API)."""

    DEFAULT_CSS = """
    GridView { height: 1fr; }
    """
    BINDINGS = [  # noqa: RUF012
        Binding("up,k", "move(-1, 0)", "Up", show=False),
        Binding("down,j", "move(1, 0)", "Down", show=False),
        Binding("left,h", "move(0, -1)", "Newer run", show=False),
        Binding("right,l", "move(0, 1)", "Older run", show=False),
        Binding("home", "column(0)", "Newest run", show=False),
        Binding("end", "column(-1)", "Oldest run", show=False),
        Binding("pageup", "move(-10, 0)", "Page up", show=False),
        Binding("pagedown", "move(10, 0)", "Page down", show=False),
    ]

    class Moved(Message):
        """The cursor moved to another cell."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: GridData | None = None
        self.row = 0
        self.col = 0
        self.top = 0
        self.left = 0
        self.show_counts = False
        self.marked: str | None = None
        self._name_width: tuple[object, int] = (None, NAME_MIN)

    # -- data --------------------------------------------------------------------------------
    def set_data(self, data: GridData) -> None:
        """Show a (new) grid; the cursor stays on its node and run when they still exist."""
        old = self.data
        node = old.grid.nodes[self.row] if old and old.grid.nodes else None
        run = old.grid.runs[self.col] if old and old.grid.runs else None
        self.data = data
        grid = data.grid
        self.row = (
            grid.nodes.index(node) if node in grid.nodes else min(self.row, _last(grid.nodes))
        )
        col = grid.column(run) if run is not None else None
        self.col = col if col is not None else min(self.col, _last(grid.runs))
        self._clamp()
        self.refresh()
        self.post_message(self.Moved())

    @property
    def name_width(self) -> int:
        """Width of the node-name column (computed once per grid: every line reads it)."""
        names = self.data.grid.names if self.data else ()
        if self._name_width[0] is not names:
            width = min(max([len(cell(n, NAME_MAX)) for n in names] + [NAME_MIN]), NAME_MAX)
            self._name_width = (names, width)
        return self._name_width[1]

    @property
    def visible_cols(self) -> int:
        """Runs that fit beside the names."""
        return max(1, (self.size.width - self.name_width - 1) // (CELL_W + GAP))

    @property
    def visible_rows(self) -> int:
        """Node rows that fit under the header."""
        return max(1, self.size.height - HEAD)

    def _clamp(self) -> None:
        if self.data is None:
            return
        if self.row < self.top:
            self.top = self.row
        elif self.row >= self.top + self.visible_rows:
            self.top = self.row - self.visible_rows + 1
        if self.col < self.left:
            self.left = self.col
        elif self.col >= self.left + self.visible_cols:
            self.left = self.col - self.visible_cols + 1
        self.top = max(0, self.top)
        self.left = max(0, self.left)

    def cursor(self) -> tuple[Identity, str] | None:
        """(node identity, run id) under the cursor."""
        if self.data is None or not self.data.grid.nodes or not self.data.grid.runs:
            return None
        return self.data.grid.nodes[self.row], self.data.grid.runs[self.col]

    # -- rendering ---------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """The run header (dates, times) or one node's row."""
        width = self.size.width
        base = self.rich_style
        data = self.data
        if data is None or not data.grid.runs:
            text = "…" if data is None else "no runs yet"
            return Strip([Segment(text if y == 1 else "", base)]).crop_extend(0, width, base)
        grid = data.grid
        nw = self.name_width
        cols = range(self.left, min(len(grid.runs), self.left + self.visible_cols))
        segs: list[Segment] = []
        dim = base + Style(dim=True)
        if y < HEAD:
            label = "node" if y == 1 else ""
            segs.append(Segment(label.ljust(nw + 1)[: nw + 1], dim))
            for j in cols:
                info = data.infos[j] if j < len(data.infos) else None
                started = info.started if info is not None else None
                fmt = "%m-%d" if y == 0 else "%H:%M"
                text = _strftime(started, fmt).center(CELL_W)
                style = base + Style(bold=True) if j == self.col else dim
                if grid.runs[j] == self.marked:
                    style += Style(underline=True)
                segs.append(Segment(text + " " * GAP, style))
            return Strip(segs).crop_extend(0, width, base)
        i = self.top + y - HEAD
        if i >= len(grid.nodes):
            return Strip.blank(width, base)
        name_style = base + Style(bold=i == self.row)
        segs.append(Segment(cell(grid.names[i], nw).ljust(nw) + " ", name_style))
        palette = palette_of(self.app)
        for j in cols:
            here = i == self.row and j == self.col
            # the cursor cell shows its count on the state's colour (a reversed bar is blank)
            text, state = cell_text(
                grid.counts[i, j], int(grid.worst[i, j]), self.show_counts or here
            )
            style = base + (
                palette.plain(_COLOUR_OF.get(state, state)) if state else Style(dim=True)
            )
            if here:
                style += Style(reverse=True, bold=True)
            segs.append(Segment(text, style))
            segs.append(Segment(" " * GAP, base))
        return Strip(segs).crop_extend(0, width, base)

    # -- cursor ------------------------------------------------------------------------------
    def _go(self, row: int, col: int) -> None:
        if self.data is None:
            return
        grid = self.data.grid
        row = max(0, min(row, _last(grid.nodes)))
        col = max(0, min(col, _last(grid.runs)))
        if (row, col) == (self.row, self.col):
            return
        old_row, view = self.row, (self.top, self.left)
        self.row, self.col = row, col
        self._clamp()
        if (self.top, self.left) == view:
            # Only the run header and the two node lines change: repaint just those.
            width = self.size.width
            lines = {0, 1, HEAD + old_row - self.top, HEAD + row - self.top}
            self.refresh(*(Region(0, y, width, 1) for y in lines))
        else:
            self.refresh()
        self.post_message(self.Moved())

    def action_move(self, rows: int, cols: int) -> None:
        """Move the cursor by rows (nodes) and columns (runs)."""
        self._go(self.row + rows, self.col + cols)

    def action_column(self, col: int) -> None:
        """Jump to the newest (0) or oldest (-1) run."""
        last = _last(self.data.grid.runs) if self.data else 0
        self._go(self.row, last if col < 0 else col)

    def on_click(self, event: Click) -> None:
        """Put the cursor on the clicked cell."""
        if event.y >= HEAD and event.x > self.name_width:
            col = self.left + (event.x - self.name_width - 1) // (CELL_W + GAP)
            self._go(self.top + event.y - HEAD, col)

    def on_resize(self) -> None:
        """Keep the cursor visible at the new size."""
        self._clamp()


def _last(items: tuple) -> int:
    return max(len(items) - 1, 0)


def _strftime(epoch: float | None, fmt: str) -> str:
    import time

    if epoch is None:
        return "?"
    try:
        return time.strftime(fmt, time.localtime(epoch))
    except (OverflowError, ValueError, OSError):
        return "?"


def cursor_text(
    data: GridData, row: int, col: int, marked: str | None, palette: Any = None
) -> Text:
    """The lines under the grid: the cursor's run and its cell's counts."""
    palette = palette or palette_of(None)
    grid = data.grid
    out = Text()
    if not grid.runs:
        return out
    run_id = grid.runs[col]
    info: RunInfo | None = data.infos[col] if col < len(data.infos) else None
    out.append("run ", style="dim")
    out.append(cell(run_id, 40), style="bold")
    if run_id == marked:
        out.append(" (marked)", style="underline")
    if info is not None:
        out.append("  started ", style="dim")
        out.append(clock_time(info.started, with_date=True))
        if info.ended is not None and info.started is not None:
            out.append(f" ({format_duration(info.ended - info.started)})", style="dim")
        if info.outcome:
            out.append("  outcome ", style="dim")
            out.append(cell(info.outcome, 20))
        out.append("  ")
        out.append_text(verdict_text(info.verdict, palette))
        out.append("\nrun  ", style="dim")
        out.append_text(_counts(info.counts, palette))
    if grid.nodes:
        c = grid.cell(row, col)
        out.append("\nnode ", style="dim")
        out.append(cell(grid.names[row], 60), style="bold")
        out.append("  ")
        out.append_text(_counts(c.counts, palette) if c.ran else Text("did not run", style="dim"))
    return out


def _counts(counts: dict[str, int], palette: Any) -> Text:
    out = Text()
    for state in CELL_STATES:
        n = counts.get(state, 0)
        if n:
            style = palette.state(_COLOUR_OF.get(state, state))
            out.append(f"{_MARK.get(state, '?')} {n:,} {state.lower()}  ", style=style)
    if not out:
        out.append("no packets", style="dim")
    return out


class GridScreen(Screen[tuple[str, Identity] | None]):
    """The runs × nodes grid of one pipeline; dismissed with (run id, node identity) on Enter."""

    DEFAULT_CSS = """
    #grid-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    #grid-info { height: 3; padding: 0 1; background: $boost; text-wrap: nowrap;
                 text-overflow: ellipsis; }
    GridView { padding: 0 1; }
    """
    BINDINGS = [  # noqa: RUF012
        Binding("escape,q", "close", "Back"),
        Binding("enter", "open", "Open run"),
        Binding("n", "counts", "Counts"),
        Binding("m", "mark", "Mark run"),
        Binding("d", "diff", "Diff"),
    ]

    def __init__(
        self,
        pipeline: Pipeline,
        title: str,
        compute: Callable[[Grid | None], Any],
    ) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.title_text = title
        self._compute = compute  # previous grid → a future of GridData | None (model thread)
        self.data: GridData | None = None

    def compose(self) -> ComposeResult:
        """Title, grid, cursor line, footer."""
        yield Static(Text(f"runs × nodes  {cell(self.title_text, 80)}"), id="grid-title")
        yield GridView(id="grid")
        yield Static(id="grid-info")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Compute the grid."""
        self.query_one(GridView).focus()
        self.reload()

    @work(group="grid", exclusive=True, exit_on_error=False)
    async def reload(self) -> None:
        """Recompute the grid on the model thread (the newest column only, when possible)."""
        previous = self.data.grid if self.data is not None else None
        data = await asyncio.wrap_future(self._compute(previous))
        if data is None or not self.is_attached:
            return
        self.data = data
        grid = data.grid
        self.query_one("#grid-title", Static).update(
            Text(
                f"runs × nodes  {cell(self.title_text, 80)}  —  {len(grid.runs)} runs, "
                f"{len(grid.nodes)} nodes, newest left"
            )
        )
        self.query_one(GridView).set_data(data)

    def on_grid_view_moved(self, _event: GridView.Moved) -> None:
        """Describe the cursor's run and cell."""
        view = self.query_one(GridView)
        if view.data is not None:
            self.query_one("#grid-info", Static).update(
                cursor_text(view.data, view.row, view.col, view.marked, palette_of(self.app))
            )

    def action_close(self) -> None:
        """Back to the monitor."""
        self.dismiss(None)

    def action_open(self) -> None:
        """Open the cursor's run with the cursor's node selected."""
        found = self.query_one(GridView).cursor()
        if found is not None:
            self.dismiss((found[1], found[0]))

    def action_counts(self) -> None:
        """Show counts instead of bars (and back)."""
        view = self.query_one(GridView)
        view.show_counts = not view.show_counts
        view.refresh()

    def action_mark(self) -> None:
        """Mark the cursor's run as one side of a diff (again: unmark)."""
        view = self.query_one(GridView)
        found = view.cursor()
        if found is None:
            return
        view.marked = None if view.marked == found[1] else found[1]
        view.refresh()
        self.on_grid_view_moved(GridView.Moved())

    def action_diff(self) -> None:
        """Diff the marked run against the cursor's (older → newer), else the default pair."""
        view = self.query_one(GridView)
        found = view.cursor()
        if view.data is None or found is None:
            return
        pair: tuple[str, str] | None = None
        if view.marked in view.data.grid.runs and view.marked != found[1]:
            runs = view.data.grid.runs
            a, b = runs.index(view.marked), runs.index(found[1])
            pair = (runs[max(a, b)], runs[min(a, b)])  # FROM is the older (further right)
        from orcatui.app.diff_view import open_diff

        open_diff(self.app, self.pipeline, self.title_text, pair)
