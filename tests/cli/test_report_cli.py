"""``orcatui report`` as a user runs it: escaping of hostile text, error groups, last words."""

from __future__ import annotations

import html.parser
import os
import subprocess
import sys

import pytest
from markdown_it import MarkdownIt
from support.events import T0, log_row, packet, table_dir, write_parquet
from support.killed import killed_writer

HOSTILE = "| # * [x](javascript:alert(1)) <script>alert(2)</script> `tick` \x1b[31mred"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orcatui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


@pytest.fixture
def hostile(tmp_path):
    """A run whose tags, errors and output carry Markdown/HTML injection attempts."""
    tb = (
        "Traceback (most recent call last):\n"
        '  File "/home/u/fit.py", line 3, in fit\n'
        "ValueError: value 7 out of range\n"
    )
    rows = (
        packet("r1", T0, T0 + 1, "SUCCESS", subject=HOSTILE)
        + packet("r1", T0 + 1, T0 + 3, "FAILED", f"ValueError: {HOSTILE}", subject="a")
        + packet("r1", T0 + 1, T0 + 4, "FAILED", "value 7 out of range", subject="b")
        + packet("r1", T0 + 1, T0 + 5, "FAILED", "value 9 out of range", subject="c")
        + packet("r1", T0 + 2, None, "", subject=HOSTILE + "-lost")
    )
    write_parquet(table_dir(tmp_path, "etl", ("clean",)), rows)
    write_parquet(
        table_dir(tmp_path, "etl", ("clean",), "log"),
        [
            log_row("r1", T0 + 4, stderr="boom", tb=tb, ok=False, subject="b"),
            log_row("r1", T0 + 5, stderr="boom", tb=tb.replace("7", "9"), ok=False, subject="c"),
            log_row("r1", T0 + 3, stdout=f"```\n{HOSTILE}\n````", subject=HOSTILE + "-lost"),
        ],
    )
    return tmp_path


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags_of(html_text: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(html_text)
    return p.tags


def test_markdown_report_is_inert(hostile):
    r = run("report", str(hostile))
    assert r.returncode == 3, r.stderr  # LOST present, as summary
    md = r.stdout
    assert "\x1b" not in md
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    tags = _tags_of(rendered)
    names = {t for t, _ in tags}
    assert "script" not in names and "a" not in names and "img" not in names
    assert not any("javascript" in str(a) for _, a in tags)
    # Headings are only ours: the title, the pipeline, and its sections.
    heads = [line for line in md.splitlines() if line.startswith("#")]
    assert heads[0] == "# orcatui post-mortem"
    assert all(h.startswith(("# orcatui", "## Pipeline", "### ")) for h in heads), heads
    # Every table row has as many cells as its header (no `|` from a tag split a cell).
    for block in md.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {len(ln.replace("\\|", "").split("|")) for ln in lines}
            assert len(widths) == 1, lines
    # The hostile text is still there to read, inside code.
    assert "<script>alert(2)</script>" in rendered.replace("&lt;", "<").replace("&gt;", ">")


def test_html_report_is_inert(hostile, tmp_path):
    out = tmp_path / "pm.html"
    r = run("report", str(hostile), "--format", "html", "-o", str(out))
    assert r.returncode == 3, r.stderr
    assert r.stdout == ""
    assert "report written to" in r.stderr
    page = out.read_text()
    names = [t for t, _ in _tags_of(page)]
    assert "script" not in names and "a" not in names
    assert "Content-Security-Policy" in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_error_groups_in_the_report(hostile):
    md = run("report", str(hostile)).stdout
    section = md.split("### Failed packets (3)")[1].split("###")[0]
    assert "| error | packets | nodes | example |" in section
    # b and c differ only by a number and share a traceback frame: one group of 2.
    group = next(ln for ln in section.splitlines() if "fit.py:fit" in ln)
    assert "| 2 |" in group
    assert "value <num> out of range" in group


def test_report_of_a_named_run_and_bad_input(hostile):
    assert run("report", str(hostile), "--run", "r1").returncode == 3
    r = run("report", str(hostile), "--run", "nope")
    assert r.returncode == 2 and "no run 'nope'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run("report", str(hostile / "missing"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run("report", str(hostile), "--format", "pdf")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_report_at_a_moment_is_historical(hostile):
    from support.events import iso

    r = run("report", str(hostile), "--at", iso(T0 + 1.5))
    assert r.returncode == 0, r.stderr  # at T0+1.5 nothing had failed, the run was not over
    assert "**Historical:** the state as of 2026-11-28T" in r.stdout
    assert "### Failed packets" not in r.stdout


def test_sigkilled_writer_last_words_in_the_report(tmp_path):
    root = killed_writer(tmp_path)
    r = run("report", str(root))
    assert r.returncode == 3, r.stdout + r.stderr
    md = r.stdout
    lost = md.split("### Lost packets (1)")[1]
    assert "subject=s2" in lost
    assert "LAST WORDS before the kill" in lost
    assert "oops on stderr" in lost
    assert "step 3 of 4" in lost
    assert "done quickly" not in lost  # s1's output belongs to s1
