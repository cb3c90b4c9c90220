"""The sanitiser: escapes stripped, colour optionally kept, cells one line and bounded."""

from __future__ import annotations

from orcatui.app.sanitize import ansi_text, bounded, cell, plain_text, strip_escapes


def test_strips_osc_csi_and_controls() -> None:
    raw = "a\x1b]0;title\x07b\x1b[2J\x1b[Hc\x1b[1Ad\x07e\x00f\x08g\x1bch\x9b31mi\tj\nk"
    assert strip_escapes(raw) == "abcdefghi\tj\nk"


def test_keeps_colour_only_when_asked() -> None:
    raw = "\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07\x1b[2Kx"
    assert strip_escapes(raw) == "red x"
    assert strip_escapes(raw, keep_colour=True) == "\x1b[31mred\x1b[0m x"
    text = ansi_text(raw)
    assert text.plain == "red x"
    assert text.spans and text.spans[0].end == 3


def test_unterminated_osc_and_carriage_returns() -> None:
    assert strip_escapes("ok\x1b]8;;http://evil") == "ok"
    assert strip_escapes("10%\r100%\r\ndone") == "10%\n100%\ndone"


def test_markup_is_never_parsed() -> None:
    text = plain_text("[bold red]x[/] [link=http://e]y[/link]")
    assert text.plain == "[bold red]x[/] [link=http://e]y[/link]"
    assert not text.spans


def test_cell_first_line_and_limit() -> None:
    assert cell(None) == ""
    assert cell("one\ntwo") == "one…"
    assert cell("a\tb") == "a b"
    long = cell("x" * 1_000_000, 200)
    assert len(long) == 200 and long.endswith("…")
    assert cell("\x1b[31mred\x1b[0m") == "red"


def test_bounded() -> None:
    assert bounded("abc", 5) == ("abc", False)
    assert bounded("abcdef", 3) == ("abc", True)
