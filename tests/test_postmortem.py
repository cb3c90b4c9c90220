"""The post-mortem report: content of a crashed run, escaping of hostile text, exit codes."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from support.events import T0, iso, log_row, packet, table_dir, write_parquet

from orcatui import exitcodes
from orcatui.model.monitor import Monitor
from orcatui.postmortem import (
    ErrorGroup,
    build_postmortem,
    md_code,
    render_report,
    report_exit_code,
)

HOSTILE = "| # * [x](javascript:alert(1)) <script>alert(1)</script> ``tick`` \\* _u_ @user"
NASTY = HOSTILE + "\n# heading\n\x1b[31mred\u202eevil"
NOW = T0 + 3600


def crashed_root(root, label: str = "Cleaning"):
    """r1 crashed (heartbeat stopped at T0+30): a SUCCESS, b LOST with a partial log row,
    c FAILED with a hostile error; a hostile tag value on b."""
    rows = (
        packet("r1", T0, T0 + 10, "SUCCESS", subject="a")
        + packet("r1", T0 + 5, None, "", subject=NASTY)
        + packet("r1", T0 + 12, T0 + 20, "FAILED", NASTY, subject="c")
    )
    write_parquet(table_dir(root, "etl", ("clean",)), rows)
    out = "\n".join(f"line {i}" for i in range(100)) + "\n```\n" + HOSTILE
    write_parquet(
        table_dir(root, "etl", ("clean",), "log"),
        [log_row("r1", T0 + 25, stdout=out, stderr="almost there", ok=None, subject=NASTY)],
    )
    runs = root / "etl" / "_runs"
    runs.mkdir(parents=True)
    (runs / "r1.json").write_text(
        json.dumps(
            {
                "run_id": "r1",
                "host": "elsewhere",
                "pid": 1,
                "started_at": iso(T0),
                "heartbeat_at": iso(T0 + 30),
                "nodes": {"clean": {"label": label}},
            }
        )
    )
    m = Monitor(root, clock=lambda: NOW)
    m.refresh()
    return m


def gfm(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(text)


def test_crashed_run_content(tmp_path):
    m = crashed_root(tmp_path)
    (pm,) = build_postmortem(m, None, NOW)
    assert pm.run.run_id == "r1" and pm.death == pytest.approx(T0 + 30)
    assert pm.counts == {"SUCCESS": 1, "CACHED": 0, "FAILED": 1, "RUNNING": 0, "LOST": 1}
    (lost,) = pm.lost
    assert lost.tags == {"subject": NASTY} and lost.started == pytest.approx(T0 + 5)
    assert lost.log is not None and lost.log.stderr == "almost there"
    assert [s.duration_s for s in pm.slowest] == [pytest.approx(10), pytest.approx(8)]
    text = render_report(m, None, "markdown", NOW)
    assert "moment of death:** 2026-11-28 15:33:50 UTC" in text
    assert "line 99" in text and "line 79" not in text  # the last 20 lines only
    assert "almost there" in text
    assert "### Timeline" in text and "†" in text


@pytest.mark.parametrize("where", ["tag", "label"])
def test_markdown_keeps_hostile_text_inert(tmp_path, where):
    m = crashed_root(tmp_path, label=NASTY if where == "label" else "Cleaning")
    text = render_report(m, None, "markdown", NOW)
    assert "\x1b" not in text and "\u202e" not in text
    rendered = gfm(text)
    assert "<script" not in rendered and "javascript:" not in rendered.split("<code>")[0]
    assert "<a " not in rendered and "<em>" not in rendered
    assert rendered.count("<h1>") == 1 and "<h1>heading" not in rendered
    assert "<strong>" in rendered  # our own labels are bold
    # Every table row keeps its column count: no "|" from the data split a cell.
    for table in rendered.split("<table>")[1:]:
        head = len(re.findall(r"<th[ >]", table.split("</thead>")[0]))
        for row in table.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]:
            assert len(re.findall(r"<td[ >]", row)) == head
    # The hostile text is still there, verbatim, inside code.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_md_code_outruns_backticks_and_escapes_pipes():
    assert md_code("a`b") == "``a`b``"
    assert md_code("``x") == "``` ``x ```"
    assert md_code("a|b", in_table=True) == "`a\\|b`"
    assert md_code("x\ny") == "`x y`"
    assert md_code(None) == "" and md_code("") == ""
    assert gfm(md_code("``x")).strip() == "<p><code>``x</code></p>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


@pytest.mark.parametrize("where", ["tag", "label"])
def test_html_keeps_hostile_text_inert(tmp_path, where):
    m = crashed_root(tmp_path, label=NASTY if where == "label" else "Cleaning")
    text = render_report(m, None, "html", NOW)
    parser = _Tags()
    parser.feed(text)
    assert "script" not in parser.tags and "a" not in parser.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\x1b" not in text and "\u202e" not in text
    assert "default-src 'none'" in text
    assert "almost there" in text and "line 99" in text


def test_exit_code_as_summary(tmp_path):
    m = crashed_root(tmp_path)
    runs = build_postmortem(m, None, NOW)
    assert report_exit_code(runs, unreadable=False) == exitcodes.LOST
    assert report_exit_code(runs, unreadable=True) == exitcodes.LOST
    early = build_postmortem(m, None, T0 + 25)  # before the heartbeat stopped: nothing lost
    assert report_exit_code(early, unreadable=False) == exitcodes.FAILED
    assert report_exit_code(early, unreadable=True) == exitcodes.UNREADABLE
    assert report_exit_code([], unreadable=False) == exitcodes.OK


def test_unknown_run_and_format(tmp_path):
    m = crashed_root(tmp_path)
    assert build_postmortem(m, "nope", NOW) == []
    assert "No run to report on." in render_report(m, "nope", "markdown", NOW)
    with pytest.raises(ValueError, match="unknown format"):
        render_report(m, None, "pdf", NOW)


def test_error_groups_seam(tmp_path):
    m = crashed_root(tmp_path)

    def group(failed):
        return [ErrorGroup("hostile " + HOSTILE, len(failed), ("Cleaning",), failed[0])]

    for fmt in ("markdown", "html"):
        text = render_report(m, None, fmt, NOW, group_errors=group)
        assert "hostile" in text and "packets" in text
    rendered = gfm(render_report(m, None, "markdown", NOW, group_errors=group))
    assert "<script" not in rendered
