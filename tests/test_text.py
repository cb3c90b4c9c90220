"""The one sanitiser: nothing from a pipeline reaches a terminal, clipboard or report live."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orcatui.text import CELL_LIMIT, cell, for_clipboard, inert, strip_escapes

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidi_controls_are_removed_everywhere() -> None:
    spoof = "invoice\u202egpj.exe"
    assert inert(spoof) == "invoicegpj.exe"
    assert strip_escapes(spoof) == "invoicegpj.exe"
    assert cell(spoof) == "invoicegpj.exe"
    assert for_clipboard(spoof) == ("invoicegpj.exe", False)
    assert strip_escapes(f"\x1b[31m{spoof}\x1b[0m", keep_colour=True) == (
        "\x1b[31minvoicegpj.exe\x1b[0m"
    )


def test_lone_surrogates_from_non_utf8_names_become_replacement_characters() -> None:
    name = b"n\xffode".decode("utf-8", "surrogateescape")
    assert inert(name) == "n\ufffdode"
    inert(name).encode("utf-8")  # printable: encoding no longer fails


def test_clipboard_text_has_no_escapes_and_is_bounded() -> None:
    text, cut = for_clipboard("\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07payload" * 10, limit=20)
    assert "\x1b" not in text and "\x07" not in text
    assert cut and len(text) == 20


@given(st.text())
def test_nothing_dangerous_survives(value: str) -> None:
    for out in (inert(value), strip_escapes(value), cell(value), for_clipboard(value)[0]):
        assert not any(ch in out for ch in "\x1b\x9b\x07\x00" + BIDI)
        assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in out)
    assert "\n" not in inert(value)
    assert len(cell(value)) <= CELL_LIMIT + 1
