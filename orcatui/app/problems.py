"""The problems view (``p``): every FAILED, LOST and slow packet of the shown runs, grouped by
LOST reason, error signature, or slow node — worst kind first, then the largest groups, counts
first. ``enter`` expands a group into its packets and opens a packet's details.

The groups are computed on the model thread (:func:`orcatui.app.triage_source.problems`); the
list is a virtualised Line-API view: only the lines on screen are rendered, so 100,000 packets
open and move as fast as ten.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import Future
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from orcatui.app.footer import KeyFooter
from orcatui.app.render import STATE_MARK, duration_cell, palette_of
from orcatui.app.sanitize import cell
from orcatui.app.triage_source import ProblemGroup, ProblemRows, Problems, problems
from orcatui.model.errors import ErrorGrouper
from orcatui.model.monitor import NodeKey, Snapshot
from orcatui.model.views import ROW_COLUMNS, View

_MARK = {"LOST": STATE_MARK["LOST"], "FAILED": STATE_MARK["FAILED"], "slow": "▸"}
#: One grouper for the problems view (its caches live as long as the app; model thread only).
GROUPER = ErrorGrouper()
#: The nodes' problem rows, kept between computations (model thread only).
ROWS = ProblemRows()


#: The last problems asked of the model thread: (what they are for, their future). After each
#: frame whose problems changed they are computed ahead (:func:`prepare_problems`), so ``p``
#: finds them done and only paints.
_AHEAD: list[tuple[weakref.ref, tuple, Future[Problems]]] = []


def _views_key(views: dict[tuple[str, ...], View]) -> tuple:
    return tuple(sorted(views.items(), key=lambda kv: kv[0]))


def _has_problems(snapshot: Snapshot) -> bool:
    return any(
        n.counts.get("FAILED") or n.counts.get("LOST") or n.slow
        for p in snapshot.pipelines
        for n in p.nodes
    )


def problems_for(
    app: Any, views: dict[tuple[str, ...], View], snapshot: Snapshot | None, *, force: bool = False
) -> Future[Problems]:
    """The problems of ``views`` as of ``snapshot`` (the frame shown), computed on the model
    thread — or the computation already asked for the same monitor, views and problem counts
    (done or running), unless ``force``."""
    source, clock = app.source, app.clock
    monitor = source.monitor
    key = None
    if snapshot is not None:
        key = (_views_key(views), _stamp(snapshot))
        if not force and _AHEAD and _AHEAD[0][0]() is monitor and _AHEAD[0][1] == key:
            return _AHEAD[0][2]

    def job() -> Problems:
        return problems(source.monitor, views, clock(), GROUPER, ROWS)

    future: Future[Problems] = app.refresher.ask(job)
    if key is not None:
        _AHEAD[:] = [(weakref.ref(monitor), key, future)]
    return future


def prepare_problems(app: Any, snapshot: Snapshot, views: dict[tuple[str, ...], View]) -> None:
    """After a frame: compute its problems ahead on the model thread when there are any and
    they may have changed (new data or other problem counts), so opening the view only paints.

    Not while the time cursor shows history: the view is of the live data, which a step does
    not change, but the moment's counts would make every step compute it again."""
    if getattr(app, "time_at", None) is not None:
        return
    if _has_problems(snapshot):
        problems_for(app, dict(views), snapshot)


def _group_id(group: ProblemGroup) -> tuple[str, str]:
    """What names a group across recomputations: its kind and title (signature, reason)."""
    return group.kind, group.title


def _stamp(snapshot: Snapshot) -> tuple[int, tuple]:
    """What decides whether the problems changed: the data version and each node's counts."""
    return snapshot.version, tuple(
        (n.key, n.counts.get("FAILED", 0), n.counts.get("LOST", 0), n.slow)
        for p in snapshot.pipelines
        for n in p.nodes
    )


def _nodes_text(nodes: dict[str, int], width: int) -> str:
    """``name ×count, …`` of a group's nodes, only as many as can show in ``width`` cells
    (a group may span hundreds of nodes; the line is cut to the width anyway)."""
    parts: list[str] = []
    length = 0
    for n, c in nodes.items():
        if length > width:
            parts.append("…")
            break
        part = f"{cell(n, 40)} ×{c:,}"
        parts.append(part)
        length += len(part) + 2
    return ", ".join(parts)


class ProblemList(ScrollView, can_focus=True):
    """Groups and, when expanded, their packets; one line each, rendered when visible."""

    BINDINGS = [  # noqa: RUF012
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("home,g", "edge(0)", "First line", show=False),
        Binding("end,G", "edge(1)", "Last line", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("ctrl+d", "half(1)", "Half a page down", show=False),
        Binding("ctrl+u", "half(-1)", "Half a page up", show=False),
        Binding("enter", "enter", "Expand group / open packet"),
        Binding("right,l", "expand(True)", "Expand group", show=False),
        Binding("left,h", "expand(False)", "Collapse group", show=False),
    ]
    COMPONENT_CLASSES = {"problem-list--cursor", "problem-list--placeholder"}  # noqa: RUF012
    # The vertical scrollbar is always there (thin, as in the tree and the table): expanding
    # a group of a list that fitted the screen then changes no layout but the list's own
    # (a scrollbar coming costs two more layout passes, a frame each, before the repaint).
    DEFAULT_CSS = """
    ProblemList {
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    class Open(Message):
        """Enter on a packet line: open its details."""

        def __init__(self, group: int, packet: int) -> None:
            self.group = group
            self.packet = packet
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.problems: Problems | None = None
        self.expanded: set[int] = set()
        self.cursor = 0
        self._starts = np.zeros(1, np.int64)  # first line of each group (+ the end)
        self.placeholder = "computing…"
        # (group, packet, expanded) → its rendered line without the cursor style, for the
        # current problems, width and base style: a cursor move repaints two lines, a scroll
        # only the lines that come into view, and expanding a group only its new lines (keyed
        # by item, not by line number, a line keeps its strip when the lines above it move)
        self._strips: dict[tuple[int, int, bool], Strip] = {}
        self._strips_for: tuple[int, Style | None] = (0, None)

    # -- data ---------------------------------------------------------------------------------
    def set_problems(self, found: Problems) -> None:
        """Show the groups: the first time all collapsed (or the only group expanded); after
        that (live data) the same groups stay expanded and the cursor stays on the same group
        or packet when it still exists, at the same place on screen."""
        old = self.problems
        if old is None:
            self.problems = found
            self.expanded = {0} if len(found.groups) == 1 else set()
            self.cursor = 0
            self.placeholder = "no FAILED, LOST or slow packets in the shown runs"
            self._layout()
            self.scroll_to(y=0, animate=False, immediate=True)
            return
        at = self._cursor_item()
        screen_offset = self.cursor - int(self.scroll_y)
        open_ids = {_group_id(old.groups[g]) for g in self.expanded if g < len(old.groups)}
        index = {_group_id(g): i for i, g in enumerate(found.groups)}
        self.problems = found
        self.expanded = {index[i] for i in open_ids if i in index}
        if len(found.groups) == 1 and len(old.groups) != 1:
            self.expanded = {0}
        self._layout()
        line = self._line_of_item(at) if at is not None else None
        if line is None:
            line = min(self.cursor, max(self.line_count - 1, 0))
        self.cursor = line
        self.scroll_to(y=max(0, line - max(screen_offset, 0)), animate=False, immediate=True)
        self._move(line)

    def _cursor_item(self) -> tuple[tuple[str, str], tuple[NodeKey, str] | None] | None:
        """What the cursor is on: (group id, (node key, packet key) or None for the group)."""
        if self.problems is None or not self.line_count:
            return None
        g, k = self.locate(self.cursor)
        group = self.problems.groups[g]
        if k < 0:
            return _group_id(group), None
        key, _name, rows, i = group.packet(k)
        return _group_id(group), (key, rows.column("key")[i].as_py())

    def _line_of_item(self, item: tuple[tuple[str, str], tuple[NodeKey, str] | None]) -> int | None:
        """The line of a group or packet in the current problems, None if it is gone."""
        assert self.problems is not None
        gid, packet = item
        for g, group in enumerate(self.problems.groups):
            if _group_id(group) != gid:
                continue
            if packet is None or g not in self.expanded:
                return self.line_of(g)
            found = group.find(*packet)
            return self.line_of(g, found) if found is not None else self.line_of(g)
        return None

    def _layout(self, *, same_problems: bool = False) -> None:
        """Lines of the groups as expanded now; ``same_problems``: only the expanded groups
        changed (the rendered lines of items are kept)."""
        groups = self.problems.groups if self.problems else []
        sizes = np.array(
            [1 + (g.count if i in self.expanded else 0) for i, g in enumerate(groups)], np.int64
        )
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        # Lines are cut to the view's width: no width of their own, so a vertical scrollbar
        # coming or going (a narrower view) changes no virtual size (no second layout).
        self.virtual_size = Size(0, self.line_count)
        if not same_problems:
            self._strips.clear()
        self.refresh()

    @property
    def line_count(self) -> int:
        """Lines: one per group plus one per packet of each expanded group."""
        return int(self._starts[-1])

    def locate(self, line: int) -> tuple[int, int]:
        """(group, packet) of a line; packet -1 for the group's own line."""
        g = int(np.searchsorted(self._starts, line, side="right")) - 1
        return g, line - int(self._starts[g]) - 1

    def line_of(self, group: int, packet: int = -1) -> int:
        """The line of a group (``packet`` -1) or of one of its packets."""
        return int(self._starts[group]) + 1 + packet

    # -- rendering ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """One screen line."""
        width = self.scrollable_content_region.width
        base = self.rich_style
        line = int(self.scroll_offset.y) + y
        if self.problems is None or not self.problems.groups:
            if y == 1:
                style = base + self.get_component_rich_style("problem-list--placeholder")
                return Strip([Segment(" " + self.placeholder, style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if line >= self.line_count:
            return Strip.blank(width, base)
        if (width, base) != self._strips_for or len(self._strips) > 4096:
            self._strips.clear()
            self._strips_for = (width, base)
        g, k = self.locate(line)
        if line == self.cursor:
            text = self._line_text(line)
            text.stylize(self.get_component_rich_style("problem-list--cursor"))
            return self._strip(text, width, base)
        item = (g, k, k < 0 and g in self.expanded)
        strip = self._strips.get(item)
        if strip is None:
            strip = self._strips[item] = self._strip(self._line_text(line), width, base)
        return strip

    def _strip(self, text: Text, width: int, base: Style) -> Strip:
        """A line's text as a strip of the view's width on its base style."""
        segments = [
            Segment(s.text, base + (s.style or Style()))
            for s in text.render(self.app.console)
            if s.text != "\n"
        ]
        return Strip(segments).crop_extend(0, width, base)

    def _line_text(self, line: int) -> Text:
        assert self.problems is not None
        palette = palette_of(self.app)
        g, k = self.locate(line)
        group = self.problems.groups[g]
        state = "RUNNING" if group.kind == "slow" else group.kind
        width = max(self.scrollable_content_region.width, 20)
        if k < 0:
            out = Text()
            out.append(" - " if g in self.expanded else " + ", style="dim")
            out.append(f"{_MARK[group.kind]} {group.count:>6,}  ", style=palette.state(state))
            out.append(cell(group.title, 300), style="bold")
            out.append(f"  [{_nodes_text(group.nodes, width)}]", style="dim")
            out.truncate(width, overflow="ellipsis")
            out.pad_right(width)
            return out
        _key, name, rows, i = group.packet(k)
        row = rows.slice(i, 1).to_pylist()[0]
        tags = " ".join(
            f"{cell(c, 30)}={cell(v, 40)}" for c, v in row.items() if c not in ROW_COLUMNS
        )
        out = Text("       ")
        out.append(f"{cell(name, 40)}  ", style="bold")
        out.append(tags)
        out.append(f"  {duration_cell(row.get('duration_s'))}", style="dim")
        detail = row.get("lost_reason") if group.kind == "LOST" else row.get("error")
        if group.kind == "FAILED" and detail:
            first = (str(detail).strip().splitlines() or [""])[0]
            out.append(f"  {cell(first, 200)}", style=palette.plain(state))
        out.truncate(width, overflow="ellipsis")
        out.pad_right(width)
        return out

    # -- cursor -------------------------------------------------------------------------------
    def _move(self, line: int) -> None:
        if not self.line_count:
            return
        old = self.cursor
        self.cursor = max(0, min(line, self.line_count - 1))
        visible = max(self.scrollable_content_region.height, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)
        if int(self.scroll_y) == top:  # no scroll: only the old and the new cursor line change
            self.refresh_line(old)
            self.refresh_line(self.cursor)
        else:
            self.refresh()

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` lines."""
        self._move(self.cursor + delta)

    def action_edge(self, end: int) -> None:
        """First (0) or last (1) line."""
        self._move(self.line_count - 1 if end else 0)

    def action_page(self, direction: int) -> None:
        """A screenful up or down."""
        self._move(self.cursor + direction * max(self.scrollable_content_region.height - 1, 1))

    def action_half(self, direction: int) -> None:
        """Half a screenful up or down."""
        self._move(self.cursor + direction * max(self.scrollable_content_region.height // 2, 1))

    def action_expand(self, expand: bool) -> None:
        """Expand or collapse the group under the cursor (from a packet: its group)."""
        if not self.line_count:
            return
        g, _ = self.locate(self.cursor)
        if expand == (g in self.expanded):
            return
        if expand:
            self.expanded.add(g)
        else:
            self.expanded.discard(g)
        self._layout(same_problems=True)
        self._move(self.line_of(g))

    def action_enter(self) -> None:
        """On a group: expand or collapse it; on a packet: open it."""
        if not self.line_count:
            return
        g, k = self.locate(self.cursor)
        if k < 0:
            self.action_expand(g not in self.expanded)
        else:
            self.post_message(self.Open(g, k))

    def step_packet(self, delta: int) -> tuple[int, int] | None:
        """Move to the next (+1) or previous (−1) packet line; its (group, packet) or None."""
        line = self.cursor + delta
        while 0 <= line < self.line_count:
            g, k = self.locate(line)
            if k >= 0:
                self._move(line)
                return g, k
            line += delta
        return None

    def on_click(self, event: Click) -> None:
        """Click: cursor; a second click acts like enter."""
        line = int(self.scroll_y) + event.y
        if line < self.line_count:
            again = line == self.cursor and event.chain > 1
            self._move(line)
            if again:
                self.action_enter()

    def on_resize(self) -> None:
        """Lines are as wide as the view (a strip of another width is rendered again)."""
        self._layout(same_problems=True)


class ProblemsScreen(Screen[None]):
    """Every problem of the shown runs, grouped; ``esc`` or ``q`` goes back."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,q", "back", "Back"),
        Binding("r", "reload(True)", "Recompute", show=False),
    ]

    def __init__(self, views: dict[tuple[str, ...], View]) -> None:
        super().__init__()
        self.views = views
        self._followed: object = None  # what the last live frame changed (see follow)

    async def action_back(self) -> None:
        """Back to the screen below, painted once: when a popped screen has been removed,
        Textual lays the app out again, a frame after it repainted the screen below; in one
        batch that is one layout and one repaint (this screen is small: it goes in a few ms)."""
        with self.app.batch_update():
            await self.app.pop_screen()

    def compose(self) -> ComposeResult:
        """A title line, the list, the footer."""
        yield Static(Text(" problems  computing…", style="bold"), id="problems-title")
        yield ProblemList(id="problems")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Compute the groups on the model thread; focus the list."""
        self.query_one(ProblemList).focus()
        main = getattr(self.app, "main", None)
        frame = getattr(main, "frame", None)
        if frame is not None:
            self._followed = _stamp(frame.snapshot)  # computed now: no reload for it
        self.action_reload()

    @work(group="problems", exclusive=True, exit_on_error=False)
    async def action_reload(self, force: bool = False) -> None:
        """Compute the problems again from the current model (``force``: even when the ones
        computed ahead for the frame shown are there)."""
        main = getattr(self.app, "main", None)
        frame = getattr(main, "frame", None)
        snapshot = frame.snapshot if frame is not None else None
        future = problems_for(self.app, self.views, snapshot, force=force)
        found = future.result() if future.done() else await asyncio.wrap_future(future)
        if not self.is_attached:
            return
        self.show(found)

    def follow_problems(self, snapshot: Snapshot) -> None:
        """A new frame arrived: compute the problems again when the data or a node's problem
        counts changed (new FAILED, LOST or slow packets appear, fixed ones leave)."""
        stamp = _stamp(snapshot)
        if stamp != self._followed:
            self._followed = stamp
            self.action_reload()

    def show(self, found: Problems) -> None:
        """Show computed problems."""
        title = Text(" problems ", style="bold reverse")
        kinds: dict[str, int] = {}
        for g in found.groups:
            kinds[g.kind] = kinds.get(g.kind, 0) + g.count
        palette = palette_of(self.app)
        for kind in ("LOST", "FAILED", "slow"):
            if kinds.get(kind):
                state = "RUNNING" if kind == "slow" else kind
                title.append(f"  {_MARK[kind]} {kinds[kind]:,} {kind}", style=palette.state(state))
        groups = len(found.groups)
        title.append(f"   {groups:,} group{'' if groups == 1 else 's'}", style="dim")
        title.append("   enter: expand / open · esc: back", style="dim")
        self.query_one("#problems-title", Static).update(title)
        self.query_one(ProblemList).set_problems(found)

    def packet(self, group: int, packet: int) -> tuple[NodeKey, View, dict] | None:
        """A packet of the list: (node, its view, its display row)."""
        found = self.query_one(ProblemList).problems
        if found is None:
            return None
        key, _name, rows, i = found.groups[group].packet(packet)
        return key, found.views.get(key[0], View()), rows.slice(i, 1).to_pylist()[0]

    def on_problem_list_open(self, event: ProblemList.Open) -> None:
        """Open a packet's details (``n`` / ``N`` there step through this list)."""
        found = self.packet(event.group, event.packet)
        if found is not None:
            self.app.open_packet(*found)  # type: ignore[attr-defined]

    def step_packet(self, delta: int) -> tuple[NodeKey, View, dict] | None:
        """The next/previous packet of the list (for the details screen's ``n`` / ``N``)."""
        moved = self.query_one(ProblemList).step_packet(delta)
        return self.packet(*moved) if moved is not None else None
