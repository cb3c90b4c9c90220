"""Pilot tests of the app core: nothing blocks the UI, live details, copy, odd roots and names."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.app import CLOCK, ORCAPOD, make_app, settle, sync, wait_for
from support.builders import (
    IDENTITY,
    log_dir,
    packet_events,
    status_dir,
    write_logs,
    write_status,
)

from orcatui.app.details import DetailsScreen
from orcatui.app.header import StatusHeader
from orcatui.app.main import OrcaApp
from orcatui.app.node_tree import NodeTree
from orcatui.app.packet_table import PacketTable
from orcatui.app.text_view import TextView
from orcatui.text import COPY_LIMIT

PIPE = ("live_pipeline",)
OK_PIPELINE = ORCAPOD / "ok" / "ok_pipeline"  # the sample, as copied into tests/fixtures


def _table(app: OrcaApp) -> PacketTable:
    return app.main.query_one(PacketTable)  # type: ignore[union-attr]


def _header(app: OrcaApp) -> str:
    return str(app.main.query_one(StatusHeader).render())  # type: ignore[union-attr]


@sync
async def test_ui_answers_keys_while_the_feeds_file_system_calls_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stat/listing/resolve the change feed makes sleeps 2 s (a hung NFS mount stand-in):
    none of them runs on the event loop, so keys are answered while they hang."""
    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 3, time.time() - 30))
    on_loop: list[str] = []
    hung = threading.Event()
    loop_thread = threading.get_ident()
    real = {"stat": os.stat, "scandir": os.scandir, "resolve": Path.resolve}

    def from_feed() -> bool:
        f = sys._getframe(2)
        while f is not None:
            if f.f_globals.get("__name__", "").startswith("orcatui.watch"):
                return True
            f = f.f_back
        return False

    def hanging(name: str) -> Callable[..., object]:
        fn = real[name]

        def call(*a: object, **k: object) -> object:
            if a and str(a[0]).startswith(str(tmp_path)) and from_feed():
                if threading.get_ident() == loop_thread:
                    on_loop.append(name)
                hung.set()
                time.sleep(2.0)
            return fn(*a, **k)

        return call

    monkeypatch.setattr(os, "stat", hanging("stat"))
    monkeypatch.setattr(os, "scandir", hanging("scandir"))
    monkeypatch.setattr(Path, "resolve", hanging("resolve"))
    app = OrcaApp(root, tick=0.2)  # the real feed (inotify), real clock
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(pilot, hung.is_set)
        assert await wait_for(pilot, lambda: _table(app).row_count == 3)
        tree = app.main.query_one(NodeTree)  # type: ignore[union-attr]
        await pilot.press("t")
        assert tree.has_class("hidden")
        await pilot.press("t")
        assert not tree.has_class("hidden")
        await pilot.press("f")
        assert app.main.state.filter == "failed"  # type: ignore[union-attr]
        assert await wait_for(pilot, lambda: _table(app).row_count == 0)
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
    assert on_loop == [], on_loop


@sync
async def test_a_directory_name_that_is_not_utf8_keeps_the_live_feed(tmp_path: Path) -> None:
    """A non-UTF-8 directory created while watching: the feed goes on (polling), new rows still
    arrive, and the header never says the feed stopped."""
    root = tmp_path / "root"
    t0 = time.time() - 30
    write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 3, t0))
    app = OrcaApp(root, tick=0.2)
    seen: list[str] = []
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(pilot, lambda: _table(app).row_count == 3)
        assert await wait_for(pilot, lambda: app.feed_backend == "inotify")
        odd = os.fsencode(root) + b"/n\xffode"
        os.mkdir(odd)
        os.mkdir(odd + b"/_status")
        (Path(os.fsdecode(odd)) / "_status" / "x").mkdir()

        def polling() -> bool:
            seen.append(app.feed_backend)
            return app.feed_backend.startswith("polling (a name is not UTF-8)")

        assert await wait_for(pilot, polling), seen
        write_status(
            status_dir(root, PIPE, IDENTITY),
            packet_events("r1", 10, 2, t0),
            name="part-0001.parquet",
            seq_start=100,
        )
        assert await wait_for(
            pilot, lambda: (seen.append(app.feed_backend), _table(app))[1].row_count == 5
        )
        assert "polling (a name is not UTF-8)" in _header(app)
    assert not any("feed stopped" in b for b in seen), seen


@sync
async def test_a_store_whose_status_is_directly_under_the_root(tmp_path: Path) -> None:
    """orcapod's ``db.at("_status")`` layout (``watch <pipeline dir>``): named by its folder."""
    root = tmp_path / "ok_pipeline"
    shutil.copytree(OK_PIPELINE, root)
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tree = app.main.query_one(NodeTree)  # type: ignore[union-attr]
        assert tree.first_node() is not None
        assert _table(app).row_count > 0
        labels = [str(line.label) for line in tree.root.children]
        assert labels and labels[0].startswith("ok_pipeline"), labels
        assert "›  ok_pipeline  ›  run " in _header(app)


@sync
async def test_details_follow_a_running_packet_until_it_ends(tmp_path: Path) -> None:
    """Open a RUNNING packet; its SUCCESS (and log) arrive while the details are open."""
    root = tmp_path / "root"
    t0 = time.time() - 20
    table = status_dir(root, PIPE, IDENTITY)
    write_status(table, [{"run": "r1", "state": "RUNNING", "ts": t0, "subject_id": "a"}])
    app = OrcaApp(root, poll=0.2, tick=0.2)
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(pilot, lambda: _table(app).row_count == 1)
        _table(app).focus()
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen))
        details = app.screen
        summary = str(details.query_one("#details-summary").render())
        assert "RUNNING" in summary
        assert "never finished" not in summary
        assert "still running" in summary
        write_status(
            table,
            [{"run": "r1", "state": "SUCCESS", "ts": t0 + 5, "subject_id": "a"}],
            name="part-0001.parquet",
            seq_start=10,
        )
        write_logs(
            log_dir(root, PIPE, IDENTITY),
            [{"run": "r1", "ts": t0 + 5, "subject_id": "a", "stdout": "done at last"}],
        )

        def finished() -> bool:
            text = str(details.query_one("#details-summary").render())
            return "SUCCESS" in text and "no log row" not in text

        assert await wait_for(pilot, finished)
        assert app.screen is details
        await pilot.press("3")
        await pilot.pause()
        view = details.query_one("#stdout").query_one(TextView)
        assert view.source == ["done at last"]


@sync
async def test_copy_puts_sanitised_bounded_text_on_the_clipboard(tmp_path: Path) -> None:
    """``c`` copies the traceback without terminal escapes, cut at COPY_LIMIT, and says so."""
    root = tmp_path / "root"
    t0 = CLOCK - 100
    ev = [
        {"run": "r1", "state": "RUNNING", "ts": t0, "subject_id": "a"},
        {"run": "r1", "state": "FAILED", "ts": t0 + 1, "subject_id": "a", "error": "boom"},
        {"run": "r1", "state": "RUNNING", "ts": t0, "subject_id": "b"},
        {"run": "r1", "state": "FAILED", "ts": t0 + 1, "subject_id": "b", "error": "big"},
    ]
    write_status(status_dir(root, PIPE, IDENTITY), ev)
    evil = "Traceback\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07: boom\u202e\n"
    huge = "x" * (COPY_LIMIT + 10)
    write_logs(
        log_dir(root, PIPE, IDENTITY),
        [
            {"run": "r1", "ts": t0 + 1, "subject_id": "a", "traceback": evil},
            {"run": "r1", "ts": t0 + 1, "subject_id": "b", "traceback": huge},
        ],
    )
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        _table(app).focus()
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard == "Traceback: boom\n"
        await pilot.press("down", "c")
        await settle(pilot)
        assert app.clipboard == "x" * COPY_LIMIT
        last = app.notices[-1]
        assert "cut to the first 1,000,000 of 1,000,010 characters" in last


@sync
async def test_the_end_of_a_long_traceback_scrolls_into_view_at_80x24(tmp_path: Path) -> None:
    """At 80×24 the last line of a long, wrapping traceback can be reached."""
    root = tmp_path / "root"
    t0 = CLOCK - 100
    ev = [
        {"run": "r1", "state": "RUNNING", "ts": t0, "subject_id": "a"},
        {"run": "r1", "state": "FAILED", "ts": t0 + 1, "subject_id": "a", "error": "boom"},
    ]
    write_status(status_dir(root, PIPE, IDENTITY), ev)
    frames = "\n".join(
        f'  File "/srv/pipelines/very/long/path/module_{i}.py", line {i}, in step_{i}\n'
        f"    result = compute(value_{i}, " + "argument, " * (i % 12) + ")"
        for i in range(80)
    )
    tb = f"Traceback (most recent call last):\n{frames}\nValueError: THE VERY LAST LINE"
    write_logs(
        log_dir(root, PIPE, IDENTITY),
        [{"run": "r1", "ts": t0 + 1, "subject_id": "a", "traceback": tb}],
    )
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _table(app).focus()
        await pilot.press("enter")
        await settle(pilot)
        view = app.screen.query_one("#traceback").query_one(TextView)
        view.focus()
        await pilot.press("end")
        await pilot.pause()
        # where a smooth scroll to the end stops in a terminal: a fraction short of the end
        view.scroll_to(y=view.max_scroll_y - 0.4, animate=False, immediate=True)
        await pilot.pause()
        assert view.scroll_offset.y == view.max_scroll_y
        shown = [
            "".join(seg.text for seg in view.render_line(y))
            for y in range(view.scrollable_content_region.height)
        ]
        assert any("THE VERY LAST LINE" in line for line in shown), shown[-3:]
        # no wrapped line is wider than the text area: nothing is cut at the right edge
        assert all(len(line.rstrip()) <= view.scrollable_content_region.width for line in shown)


@sync
async def test_many_unreadable_tables_are_notified_a_few_and_summed_up(tmp_path: Path) -> None:
    """One toast per problem flooded the screen (500 toasts kept the UI loop busy for a minute):
    the first few are named, the rest summed up in one notification; the header counts all."""
    from orcatui.app.main import MAX_PROBLEM_NOTICES

    root = tmp_path / "root"
    write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 3, CLOCK - 100))
    old = time.time() - 3600  # not a file still being written: the store reports it
    for i in range(MAX_PROBLEM_NOTICES + 9):
        bad = status_dir(root, PIPE, (f"broken_{i:02d}", "v0"))
        bad.mkdir(parents=True)
        (bad / "part-0000.parquet").write_bytes(b"PAR1 this is not parquet")
        os.utime(bad / "part-0000.parquet", (old, old))
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        notes = list(app.notices)
        assert len(notes) == MAX_PROBLEM_NOTICES + 1, notes
        assert all("broken_" in n for n in notes[:MAX_PROBLEM_NOTICES]), notes
        assert notes[-1] == "… and 9 more problems in this read"
        assert f"{MAX_PROBLEM_NOTICES + 9} unreadable tables" in _header(app)
        assert _table(app).row_count == 3
