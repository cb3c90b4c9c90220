"""Make untrusted pipeline text safe to show: strip terminal escapes, bound sizes, one-line cells.

Every string that comes from a pipeline (tags, errors, tracebacks, captured output, node names)
passes through here before it reaches a widget, and is then shown as plain ``Text`` — never parsed
as markup. Pure functions, no Textual import.
"""

from __future__ import annotations

import re

from rich.text import Text

#: Cells in the packet table are cut to this many characters.
CELL_LIMIT = 200
#: Detail views show at most this many characters of one value.
DETAIL_LIMIT = 1_000_000
ELLIPSIS = "…"

# CSI: ESC [ params intermediates final; also the 8-bit CSI (U+009B).
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
# OSC / DCS / SOS / PM / APC strings, ended by BEL or ST (ESC \ or U+009C), or unterminated.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
# Any other two-character escape (ESC followed by one byte, e.g. ESC c reset, ESC 7 save).
_ESC_OTHER = r"\x1b[ -/]*[0-~]?"
_ESCAPES = re.compile(f"{_STRING}|{_CSI}|{_ESC_OTHER}", re.DOTALL)
_SGR = re.compile(r"^(?:\x1b\[|\x9b)[0-9;:]*m$")
# C0 controls except \t and \n, DEL, and C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_escapes(text: str, *, keep_colour: bool = False) -> str:
    """Remove terminal escape sequences and control characters, keeping ``\\n`` and ``\\t``.

    With ``keep_colour`` SGR colour sequences (``ESC[…m``) survive, for :func:`ansi_text`.
    ``\\r\\n`` becomes ``\\n``; a lone ``\\r`` (progress bars) becomes ``\\n`` too.
    """
    if keep_colour:

        def _keep(m: re.Match[str]) -> str:
            seq = m.group(0)
            return seq.replace("\x9b", "\x1b[") if _SGR.match(seq) else ""

        text = _ESCAPES.sub(_keep, text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        # Protect the ESC of kept SGR sequences while removing other controls.
        parts = text.split("\x1b[")
        cleaned = [_CONTROLS.sub("", p) for p in parts]
        return "\x1b[".join(cleaned)
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


def bounded(text: str, limit: int = DETAIL_LIMIT) -> tuple[str, bool]:
    """At most ``limit`` characters of ``text``, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def cell(value: object, limit: int = CELL_LIMIT) -> str:
    """A table cell: the first line of a value, sanitised, tabs as spaces, cut with "…"."""
    if value is None:
        return ""
    text = str(value)
    # Cut early so a 1 MB value costs no more than a short one.
    head = text[: limit * 4 + 16]
    clean = strip_escapes(head).lstrip("\n")
    first, _, rest = clean.partition("\n")
    first = first.replace("\t", " ")
    more = bool(rest) or len(head) < len(text)
    if len(first) > limit:
        return first[: limit - 1] + ELLIPSIS
    return first + ELLIPSIS if more and rest.strip() else first


def plain_text(value: object, style: str = "") -> Text:
    """Untrusted text as a plain ``Text`` (escapes stripped, never markup-parsed)."""
    return Text("" if value is None else strip_escapes(str(value)), style=style)


def ansi_text(value: object) -> Text:
    """Captured output as ``Text``: ANSI colour kept as colour, every other escape stripped."""
    if value is None:
        return Text("")
    return Text.from_ansi(strip_escapes(str(value), keep_colour=True))
