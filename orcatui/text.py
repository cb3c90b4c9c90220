"""Untrusted pipeline text made inert: no terminal escapes, no control or bidi characters.

Every string that comes from a pipeline (tag values, errors, tracebacks, captured output, node
and file names) passes through here before it reaches a terminal, the clipboard or a report —
in the app and in the ``summary`` command alike. Pure functions: no Textual, no Rich.
"""

from __future__ import annotations

import re

#: Cells in the packet table are cut to this many characters.
CELL_LIMIT = 200
#: Detail views show at most this many characters of one value.
DETAIL_LIMIT = 1_000_000
#: At most this many characters are put on the clipboard.
COPY_LIMIT = 1_000_000
ELLIPSIS = "…"

# CSI: ESC [ params intermediates final; also the 8-bit CSI (U+009B).
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
# OSC / DCS / SOS / PM / APC strings, ended by BEL or ST (ESC \ or U+009C), or unterminated.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
# Any other two-character escape (ESC followed by one byte, e.g. ESC c reset, ESC 7 save).
_ESC_OTHER = r"\x1b[ -/]*[0-~]?"
_ESCAPES = re.compile(f"{_STRING}|{_CSI}|{_ESC_OTHER}", re.DOTALL)
_SGR = re.compile(r"^(?:\x1b\[|\x9b)[0-9;:]*m$")
# Bidirectional embeddings, overrides and isolates, and the implicit marks: they reorder what
# follows on screen (display spoofing, "Trojan Source"), so they are removed like controls.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# C0 controls except \t and \n, DEL, C1 controls, and the bidi controls.
_CONTROLS = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")
# Lone surrogates: what Python makes of bytes in a file name that are not UTF-8. A terminal
# cannot show them (and encoding them fails), so each becomes U+FFFD.
_SURROGATES = re.compile("[\ud800-\udfff]")


def strip_escapes(text: str, *, keep_colour: bool = False) -> str:
    """Remove terminal escapes, control and bidi characters, keeping ``\\n`` and ``\\t``.

    With ``keep_colour`` SGR colour sequences (``ESC[…m``) survive, for ANSI-coloured output.
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
        cleaned = [_SURROGATES.sub("\ufffd", _CONTROLS.sub("", p)) for p in parts]
        return "\x1b[".join(cleaned)
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


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


def inert(value: object) -> str:
    """One printable line: escapes, control and bidi characters removed, newlines as spaces."""
    if value is None:
        return ""
    return strip_escapes(str(value)).replace("\n", " ").replace("\t", " ")


def for_clipboard(value: object, limit: int = COPY_LIMIT) -> tuple[str, bool]:
    """Text safe to put on the clipboard (no escapes), at most ``limit`` characters; cut or not."""
    return bounded(strip_escapes("" if value is None else str(value)), limit)
