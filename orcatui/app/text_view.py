"""A scrollable, virtualised view of a long text (up to megabytes), wrapped to the widget's width.

Only the lines on screen are turned into ``Text``; ANSI colour is decoded per source line, and
the text was sanitised before (see :mod:`orcatui.app.sanitize`), so no other escape reaches it.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from orcatui.app.sanitize import strip_escapes


class TextView(ScrollView, can_focus=True):
    """Lines of sanitised text, wrapped at the width, rendered only when visible."""

    def __init__(
        self,
        value: str,
        *,
        colour: bool = False,
        style: Style | str = "",
        note: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.colour = colour
        self._extra_style = Style.parse(style) if isinstance(style, str) else style
        clean = strip_escapes(value, keep_colour=colour).expandtabs(4)
        self.source = clean.split("\n")
        if self.source and self.source[-1] == "" and len(self.source) > 1:
            self.source.pop()
        self.note = note
        self._plain_len: list[int] | None = None
        self._wrap: list[tuple[int, int, int]] = []  # (source line, start, end) per display line
        self._wrap_width = 0
        self._cache: tuple[int, Text] | None = None

    @property
    def line_count(self) -> int:
        """Display lines after wrapping (plus the note)."""
        return len(self._wrap) + (1 if self.note else 0)

    def _decoded(self, index: int) -> Text:
        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        raw = self.source[index]
        text = Text.from_ansi(raw) if self.colour and "\x1b" in raw else Text(raw)
        self._cache = (index, text)
        return text

    def _lengths(self) -> list[int]:
        if self._plain_len is None:
            self._plain_len = [
                len(self._decoded(i).plain) if self.colour and "\x1b" in s else len(s)
                for i, s in enumerate(self.source)
            ]
        return self._plain_len

    def _rewrap(self, width: int) -> None:
        width = max(width, 10)
        if width == self._wrap_width:
            return
        self._wrap_width = width
        wrap: list[tuple[int, int, int]] = []
        for i, n in enumerate(self._lengths()):
            if n <= width:
                wrap.append((i, 0, n))
            else:
                wrap.extend((i, s, min(s + width, n)) for s in range(0, n, width))
        self._wrap = wrap
        self.virtual_size = Size(width, self.line_count)

    def _text_width(self) -> int:
        """Columns for text: the content region (without a shown scrollbar) less the margin."""
        return max(self.scrollable_content_region.width - 1, 10)

    def on_resize(self) -> None:
        """Wrap again for the new width."""
        self._rewrap(self._text_width())
        self.refresh()

    def on_mount(self) -> None:
        """Wrap for the first width."""
        self._rewrap(self._text_width())

    def render_line(self, y: int) -> Strip:
        """One visible line."""
        if self._text_width() != self._wrap_width:
            # the scrollbar came or went without a resize event: wrap again (a new line count)
            self._rewrap(self._text_width())
        width = self.scrollable_content_region.width
        base = self.rich_style
        # The compositor scrolls by the rounded offset; flooring scroll_y (a smooth scroll ends
        # on fractions) drew one line too high and never the last line.
        index = self.scroll_offset.y + y
        if index < len(self._wrap):
            src, start, end = self._wrap[index]
            text = self._decoded(src)[start:end]
            segments = [
                Segment(seg.text, base + self._extra_style + (seg.style or Style()))
                for seg in text.render(self.app.console)
                if seg.text != "\n"
            ]
            return Strip([Segment(" ", base), *segments]).crop_extend(0, width, base)
        if self.note and index == len(self._wrap):
            style = base + Style.parse("bold yellow")
            return Strip([Segment(" " + self.note, style)]).crop_extend(0, width, base)
        return Strip.blank(width, base)
