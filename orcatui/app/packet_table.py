"""The packet table: a virtualised Line-API view over an Arrow table of display rows.

Only the rows on screen are converted to Python and rendered, so a node of 100,000 packets opens
and scrolls as fast as one of ten. The cursor follows a packet by its key across refreshes, and the
cursor's place on screen (the scroll position) stays put.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from orcatui.app.render import STATE_MARK, duration_cell, palette_of, started_cell
from orcatui.app.sanitize import cell
from orcatui.model.views import ROW_COLUMNS

#: An empty table of display rows.
EMPTY_ROWS = pa.table({c: pa.array([], pa.string()) for c in ROW_COLUMNS})
#: Widest a tag column gets; the error column takes what is left (and scrolls sideways).
TAG_MAX = 32
ERROR_MIN = 24
SAMPLE_ROWS = 400
GAP = 1
#: The error column's width when it comes before the other tags (narrow tables) …
NARROW_ERROR = 36
#: … and at least this (on a very narrow table it runs past the right edge instead).
NARROW_ERROR_MIN = 12
#: The first tag's width when it comes first in a narrow table (longer values are cut, "…").
NARROW_TAG = 16
#: The state column's width when it shows a regression (``✗ SUCCESS → FAILED``).
STATE_REGRESSED_W = 18


@dataclass(frozen=True)
class Column:
    """One shown column: its header, the display-row field it reads, and its width."""

    header: str
    field: str
    width: int
    kind: str  # "tag", "state", "started", "duration", "run", "error"


class PacketTable(ScrollView, can_focus=True):
    """Packets of one node, one line each, rendered straight from an Arrow table."""

    BINDINGS = [  # noqa: RUF012
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "edge(0)", "First packet", show=False),
        Binding("end,G", "edge(1)", "Last packet", show=False),
        Binding("ctrl+d", "half(1)", "Half a page down", show=False),
        Binding("ctrl+u", "half(-1)", "Half a page up", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("enter", "open", "Details"),
    ]
    COMPONENT_CLASSES = {  # noqa: RUF012
        "packet-table--header",
        "packet-table--cursor",
        "packet-table--cursor-blurred",
        "packet-table--placeholder",
    }

    class Opened(Message):
        """Enter was pressed on a packet."""

        def __init__(self, row: dict) -> None:
            self.row = row
            super().__init__()

    class SortClicked(Message):
        """A column header was clicked: sort by that display-row field."""

        def __init__(self, field: str) -> None:
            self.field = field
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: pa.Table = EMPTY_ROWS
        self.columns: list[Column] = []
        self.cursor = 0
        self.now = 0.0  # the time the rows were computed for
        self.clock = 0.0  # the time shown: running packets' ages grow with it between frames
        self._ageing = False  # some rows are RUNNING or LOST
        self.placeholder = "no packets"
        self._keys: pa.Array | None = None
        self._window: tuple[int, list[dict]] = (0, [])
        self._strips: dict[tuple[int, bool], Strip] = {}
        self._show_run = False
        self._node: object = None
        self.flaky: frozenset[str] = frozenset()  # display-row keys of flaky packets
        self.slow: np.ndarray | None = None  # one bool per row: RUNNING and slow
        self.sort: tuple[str, bool] | None = None  # shown in the header
        self.hide_tags = False
        self.regressed: Mapping[str, str] = {}  # display-row key → state in the previous run

    # -- data --------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """Number of rows shown."""
        return self.rows.num_rows

    @property
    def cursor_key(self) -> str | None:
        """The packet key under the cursor."""
        if not self.row_count:
            return None
        return self._row(self.cursor).get("key")

    def cursor_row(self) -> dict | None:
        """The display row under the cursor, as a dict."""
        return self._row(self.cursor) if self.row_count else None

    def set_rows(
        self,
        rows: pa.Table,
        *,
        now: float,
        node: object = None,
        show_run: bool = False,
        placeholder: str = "no packets",
        slow: np.ndarray | None = None,
        sort: tuple[str, bool] | None = None,
        regressed: Mapping[str, str] | None = None,
    ) -> None:
        """Show new rows; keep the cursor on its packet and that packet's place on screen.

        ``slow``: one bool per row (RUNNING past its node's bound); ``sort``: the sort shown
        in the header ((field, descending)); ``regressed``: display-row key → the state a
        packet had in the node's previous run, for packets that regressed since (shown as
        ``SUCCESS → FAILED``).
        """
        old_key = self.cursor_key
        self.regressed = regressed or {}
        self.slow = slow if slow is not None and len(slow) == rows.num_rows else None
        self.sort = sort
        same_node = node == self._node
        screen_offset = self.cursor - int(self.scroll_y)
        self.rows = rows
        self.now = self.clock = now
        self._ageing = (
            rows.num_rows > 0 and pc.any(pc.equal(rows.column("state"), "RUNNING")).as_py()
        )
        self.placeholder = placeholder
        self._keys = rows.column("key").combine_chunks() if rows.num_rows else None
        self._window = (0, [])
        self._strips.clear()
        keep = same_node and show_run == self._show_run
        self._show_run = show_run
        if node != self._node:
            self.flaky = frozenset()
        self._compute_columns(keep=keep)
        self._node = node
        index = self._find(old_key) if same_node else None
        if index is None:
            index = min(self.cursor, max(rows.num_rows - 1, 0)) if same_node else 0
            screen_offset = min(max(screen_offset, 0), index) if same_node else 0
        self.cursor = index
        width = sum(c.width + GAP for c in self.columns)
        self.virtual_size = Size(width, rows.num_rows + 1)
        target = max(0, index - screen_offset) if same_node else 0
        self.scroll_to(y=target, animate=False, immediate=True, force=True)
        if not same_node:
            self.scroll_to(x=0, animate=False, immediate=True, force=True)
        self._keep_cursor_visible()
        self.refresh()

    def set_flaky(self, keys: frozenset[str]) -> None:
        """Mark these rows (display-row keys) as flaky packets: ``≈`` after their state."""
        if keys == self.flaky:
            return
        self.flaky = keys
        self._compute_columns(keep=True)
        self.virtual_size = Size(sum(c.width + GAP for c in self.columns), self.row_count + 1)
        self._strips.clear()
        self.refresh()

    def set_clock(self, now: float) -> None:
        """Re-age running packets to ``now`` (repaints only when some row shows an age)."""
        if now == self.clock:
            return
        self.clock = now
        if self._ageing:
            self._strips.clear()
            self.refresh()

    def _find(self, key: str | None) -> int | None:
        if key is None or self._keys is None:
            return None
        i = pc.index(self._keys, key).as_py()
        return None if i < 0 else i

    def _compute_columns(self, *, keep: bool) -> None:
        names = self.rows.column_names
        tags = [c for c in names if c not in ROW_COLUMNS]
        n = self.rows.num_rows
        step = max(1, n // SAMPLE_ROWS)
        sample = self.rows.take(list(range(0, n, step))[:SAMPLE_ROWS]).to_pylist() if n else []
        old = {c.field: c.width for c in self.columns} if keep else {}

        def width(field: str, header: str, limit: int) -> int:
            longest = max((cell_len(cell(r.get(field), limit)) for r in sample), default=0)
            return min(max(cell_len(header), longest, old.get(field, 0), 1), limit)

        tag_cols = [Column(t, t, width(t, t, TAG_MAX), "tag") for t in tags]
        tag_cols = [] if self.hide_tags else tag_cols
        cols = list(tag_cols)
        state_w = 9
        if self.regressed and any(r.get("key") in self.regressed for r in sample):
            state_w = STATE_REGRESSED_W
        elif self.regressed and n > SAMPLE_ROWS:
            state_w = STATE_REGRESSED_W  # unsampled rows may be regressed: room for them
        cols.append(Column("state", "state", state_w + (2 if self.flaky else 0), "state"))
        started = Column("started", "started_us", 11 if self._multi_day(sample) else 8, "started")
        cols.append(started)
        cols.append(Column("duration", "duration_s", 8, "duration"))
        if self._show_run:
            cols.append(Column("run", "run_id", width("run_id", "run", 16), "run"))
        err_sample = max(
            (cell_len(cell(r.get("error") or r.get("lost_reason"), 200)) for r in sample),
            default=0,
        )
        available = self.scrollable_content_region.width
        squeezed = sum(c.width + GAP for c in cols) + ERROR_MIN > available
        if available > 0 and squeezed and tag_cols:
            # Too narrow for every column: the tags (the packet's identity) as far as they fit
            # beside what went wrong (state, duration and some error) — at least the first —
            # then state, duration, error, then the other tags.
            outcome = [c for c in cols if c.kind in ("state", "duration")]
            budget = available - sum(c.width + GAP for c in outcome) - NARROW_ERROR_MIN
            idents: list[Column] = []
            for tag in tag_cols:
                shown = replace(tag, width=min(tag.width, NARROW_TAG))
                if idents and sum(c.width + GAP for c in idents) + shown.width + GAP > budget:
                    break
                idents.append(shown)
            first = [*idents, *outcome]
            room = available - sum(c.width + GAP for c in first)
            error_w = min(max(err_sample, 5), NARROW_ERROR, max(room, NARROW_ERROR_MIN))
            placed = {c.field for c in first}
            rest = [c for c in cols if c.field not in placed]
            left = room - error_w - GAP
            if rest and 0 < left < rest[0].width and err_sample > error_w:
                error_w += left  # no column cut at the right edge: the error takes the room
            error = Column("error", "error", error_w, "error")
            self.columns = [*first, error, *rest]
            return
        used = sum(c.width + GAP for c in cols)
        room = max(available - used, ERROR_MIN)
        cols.append(Column("error", "error", max(room - GAP, min(err_sample, 200)), "error"))
        self.columns = cols

    def _multi_day(self, sample: list[dict]) -> bool:
        return any(len(started_cell(r.get("started_us"), self.now)) > 8 for r in sample)

    # -- rendering ---------------------------------------------------------------------------
    def _row(self, index: int) -> dict:
        start, rows = self._window
        if not start <= index < start + len(rows):
            height = max(self.scrollable_content_region.height, 24)
            start = max(0, index - height)
            rows = self.rows.slice(start, height * 3).to_pylist()
            self._window = (start, rows)
        return rows[index - start]

    def render_line(self, y: int) -> Strip:
        """One screen line: the header, a packet row, or blank."""
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("packet-table--header")
            return self._header(style).crop_extend(scroll_x, scroll_x + width, style)
        index = scroll_y + y - 1
        if not self.row_count:
            if y == 2:
                style = base + self.get_component_rich_style("packet-table--placeholder")
                text = set_cell_size(" " + self.placeholder, width)
                return Strip([Segment(text, style)], width)
            return Strip.blank(width, base)
        if index >= self.row_count:
            return Strip.blank(width, base)
        is_cursor = index == self.cursor
        key = (index, is_cursor)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._render_row(index, is_cursor)
            if len(self._strips) > 1000:
                self._strips.clear()
            self._strips[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header(self, style: Style) -> Strip:
        segs = []
        for c in self.columns:
            title = c.header
            if self.sort is not None and self.sort[0] == c.field:
                title = f"{title} {'▼' if self.sort[1] else '▲'}"
            segs.append(Segment(set_cell_size(title, c.width) + " " * GAP, style))
        return Strip(segs)

    def _render_row(self, index: int, is_cursor: bool) -> Strip:
        row = self._row(index)
        base = self.rich_style
        if is_cursor:
            cursor_style = self.get_component_rich_style("packet-table--cursor")
            if not self.has_focus:
                cursor_style = self.get_component_rich_style("packet-table--cursor-blurred")
            base = base + cursor_style
        segs: list[Segment] = []
        slow = self.slow is not None and bool(self.slow[index])
        for col in self.columns:
            text, style = self._cell(col, row)
            if slow and col.kind == "state":
                text, style = "▸ slow", palette_of(self.app).state("RUNNING") + Style(reverse=True)
            segs.append(Segment(set_cell_size(text, col.width) + " " * GAP, base + style))
        return Strip(segs)

    def _cell(self, col: Column, row: dict) -> tuple[str, Style]:
        value = row.get(col.field)
        state = row.get("state") or ""
        if col.kind == "state":
            flaky = " ≈" if self.flaky and row.get("key") in self.flaky else ""
            was = self.regressed.get(row.get("key")) if self.regressed else None
            text = f"{was} → {state}" if was else state
            return f"{STATE_MARK.get(state, '?')} {text}{flaky}", palette_of(self.app).state(state)
        if col.kind == "started":
            return started_cell(value, self.now), Style()
        if col.kind == "duration":
            ageing = state == "RUNNING"  # a LOST packet's duration ends at its run's last sign
            if ageing and value is not None:
                value = value + max(self.clock - self.now, 0.0)
            return duration_cell(value), Style(dim=ageing)
        if col.kind == "error":
            if state == "LOST" and row.get("lost_reason"):
                return cell(row["lost_reason"]), palette_of(self.app).plain("LOST")
            return cell(value), palette_of(self.app).plain("FAILED")
        return cell(value, col.width), Style()

    # -- cursor ------------------------------------------------------------------------------
    def _move(self, index: int) -> None:
        if not self.row_count:
            return
        index = max(0, min(index, self.row_count - 1))
        if index == self.cursor:
            self._keep_cursor_visible()
            return
        old = self.cursor
        self.cursor = index
        for k in ((old, True), (old, False), (index, True), (index, False)):
            self._strips.pop(k, None)
        self._keep_cursor_visible()
        self.refresh()

    def _keep_cursor_visible(self) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows."""
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        """Move the cursor by a screenful."""
        page = max(self.scrollable_content_region.height - 2, 1)
        self._move(self.cursor + direction * page)

    def action_half(self, direction: int) -> None:
        """Move the cursor by half a screenful (``ctrl+d`` / ``ctrl+u``)."""
        half = max((self.scrollable_content_region.height - 1) // 2, 1)
        self._move(self.cursor + direction * half)

    def action_toggle_tags(self) -> None:
        """Hide or show the tag columns."""
        self.hide_tags = not self.hide_tags
        self.on_resize()
        self.refresh()

    def column_at(self, x: int) -> Column | None:
        """The column under screen column ``x`` (the horizontal scroll counted)."""
        pos = int(self.scroll_x) + x
        for c in self.columns:
            if pos < c.width + GAP:
                return c
            pos -= c.width + GAP
        return None

    def action_edge(self, end: int) -> None:
        """Jump to the first (0) or last (1) packet."""
        self._move(self.row_count - 1 if end else 0)

    def action_open(self) -> None:
        """Ask for the details of the packet under the cursor."""
        row = self.cursor_row()
        if row is not None:
            self.post_message(self.Opened(row))

    def on_click(self, event: Click) -> None:
        """Put the cursor on the clicked row (a second click opens it)."""
        if event.y < 1:
            col = self.column_at(event.x)
            if col is not None:
                self.post_message(self.SortClicked(col.field))
            return
        index = int(self.scroll_y) + event.y - 1
        if index < self.row_count:
            if index == self.cursor and event.chain > 1:
                self.action_open()
            self._move(index)

    def on_resize(self) -> None:
        """Recompute the error column's width for the new size."""
        self._compute_columns(keep=True)
        self.virtual_size = Size(sum(c.width + GAP for c in self.columns), self.row_count + 1)
        self._strips.clear()
        self._keep_cursor_visible()

    def forget_rendered(self) -> None:
        """Drop the cache of rendered rows: every visible row is drawn afresh next time."""
        self._strips.clear()
        self.refresh()

    def on_focus(self) -> None:
        """Repaint the cursor in its focused colour."""
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        """Repaint the cursor in its unfocused colour."""
        self._strips.clear()
        self.refresh()
