"""Rich ``Text`` from untrusted pipeline text; the sanitising itself is :mod:`orcatui.text`.

Every string that comes from a pipeline (tags, errors, tracebacks, captured output, node names)
passes through here before it reaches a widget, and is then shown as plain ``Text`` — never parsed
as markup. Pure functions, no Textual import.
"""

from __future__ import annotations

from rich.text import Text

from orcatui.text import CELL_LIMIT, DETAIL_LIMIT, ELLIPSIS, bounded, cell, strip_escapes

__all__ = [
    "CELL_LIMIT",
    "DETAIL_LIMIT",
    "ELLIPSIS",
    "ansi_text",
    "bounded",
    "cell",
    "plain_text",
    "strip_escapes",
]


def plain_text(value: object, style: str = "") -> Text:
    """Untrusted text as a plain ``Text`` (escapes stripped, never markup-parsed)."""
    return Text("" if value is None else strip_escapes(str(value)), style=style)


def ansi_text(value: object) -> Text:
    """Captured output as ``Text``: ANSI colour kept as colour, every other escape stripped."""
    if value is None:
        return Text("")
    return Text.from_ansi(strip_escapes(str(value), keep_colour=True))
