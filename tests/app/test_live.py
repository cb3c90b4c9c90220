"""Pilot tests on real files: live updates, the cursor through refreshes, a vanishing root."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from support.app import CLOCK, make_app, settle, sync, wait_for
from support.builders import (
    IDENTITY,
    log_dir,
    packet_events,
    status_dir,
    write_logs,
    write_status,
)

from orcatui.app.main import OrcaApp
from orcatui.app.packet_table import PacketTable

PIPE = ("live_pipeline",)


def _live_app(root: Path) -> OrcaApp:
    """A watching app (change feed, or the built-in poll) on the real clock."""
    return OrcaApp(root, poll=0.2, static=False, tick=0.2, safety_refresh=0.5)


def _table(app: OrcaApp) -> PacketTable:
    return app.main.query_one(PacketTable)  # type: ignore[union-attr]


@sync
async def test_new_events_appear_without_a_key(tmp_path: Path) -> None:
    """A root with no tables says it waits; rows written later appear on their own."""
    root = tmp_path / "root"
    root.mkdir()
    app = _live_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        banner = app.main.query_one("#banner")
        assert "waiting for status tables under" in str(banner.render())
        t0 = time.time() - 30
        write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 5, t0))
        assert await wait_for(pilot, lambda: _table(app).row_count == 5)
        assert not banner.has_class("waiting")
        write_status(
            status_dir(root, PIPE, IDENTITY),
            packet_events("r1", 5, 3, t0),
            name="part-0001.parquet",
            seq_start=100,
        )
        assert await wait_for(pilot, lambda: _table(app).row_count == 8)


@sync
async def test_cursor_stays_on_its_packet(tmp_path: Path) -> None:
    """Refreshes keep the cursor on the same packet and the scroll position."""
    root = tmp_path / "root"
    t0 = time.time() - 300
    write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 100, 200, t0))
    app = _live_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        assert await wait_for(pilot, lambda: _table(app).row_count == 200)
        table = _table(app)
        table.focus()
        await pilot.press(*["pagedown"] * 3, "down", "down")
        key, scroll = table.cursor_key, table.scroll_y
        assert key is not None and scroll > 0
        # New packets sort before the current ones (smaller tag values) and after them.
        write_status(
            status_dir(root, PIPE, IDENTITY),
            packet_events("r1", 0, 50, t0) + packet_events("r1", 400, 50, t0),
            name="part-0001.parquet",
            seq_start=10_000,
        )
        assert await wait_for(pilot, lambda: table.row_count == 300)
        assert table.cursor_key == key
        screen_row_before = table.cursor - table.scroll_y
        await settle(pilot)
        assert table.cursor_key == key
        assert table.cursor - table.scroll_y == screen_row_before


@sync
async def test_root_deleted_then_restored(tmp_path: Path) -> None:
    """A deleted root shows a banner (no crash); the app recovers when it comes back."""
    root = tmp_path / "root"
    t0 = time.time() - 30
    write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 4, t0))
    app = _live_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        assert await wait_for(pilot, lambda: _table(app).row_count == 4)
        banner = app.main.query_one("#banner")
        shutil.rmtree(root)
        assert await wait_for(pilot, lambda: banner.has_class("error"))
        assert "cannot read the root" in str(banner.render())
        write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 6, t0))
        assert await wait_for(pilot, lambda: not banner.has_class("error"), timeout=20)
        assert await wait_for(pilot, lambda: _table(app).row_count == 6)


@sync
async def test_corrupt_table_is_named_and_the_rest_works(tmp_path: Path) -> None:
    """A corrupt Parquet file is named in a notification; other nodes still show."""
    root = tmp_path / "root"
    t0 = CLOCK - 100
    write_status(status_dir(root, PIPE, IDENTITY), packet_events("r1", 0, 3, t0))
    bad = status_dir(root, PIPE, ("other_fn", "v0"))
    bad.mkdir(parents=True)
    (bad / "part-0000.parquet").write_bytes(b"PAR1 this is not parquet")
    old = time.time() - 3600  # not a file still being written: the store reports it
    os.utime(bad / "part-0000.parquet", (old, old))
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        messages = list(app.notices)
        assert any("other_fn" in str(m) for m in messages), messages
        assert _table(app).row_count == 3


@sync
async def test_copy_and_details(tmp_path: Path) -> None:
    """``c`` copies the traceback (OSC 52); enter opens details; escape goes back."""
    root = tmp_path / "root"
    t0 = CLOCK - 100
    ev = [
        {"run": "r1", "state": "RUNNING", "ts": t0, "subject_id": "a"},
        {"run": "r1", "state": "FAILED", "ts": t0 + 1, "subject_id": "a", "error": "boom"},
    ]
    write_status(status_dir(root, PIPE, IDENTITY), ev)
    write_logs(
        log_dir(root, PIPE, IDENTITY),
        [{"run": "r1", "ts": t0 + 1, "subject_id": "a", "traceback": "Traceback: boom\n"}],
    )
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard == "Traceback: boom\n"
        _table(app).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DetailsScreen"
        await pilot.press("escape")
        assert app.screen is app.main


@sync
async def test_help_lists_every_binding(tmp_path: Path) -> None:
    """The help screen is generated from the bindings the widgets declare."""
    from orcatui.app.main import MonitorScreen

    root = Path(__file__).resolve().parents[1] / "fixtures" / "orcapod" / "failures"
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = str(app.screen.query_one("#help-text").render())
        for b in [*MonitorScreen.BINDINGS, *PacketTable.BINDINGS]:
            assert b.description in text


@sync
async def test_search_and_filters(tmp_path: Path) -> None:
    """``/`` searches tag values; state keys filter; ``a`` shows all again."""
    root = Path(__file__).resolve().parents[1] / "fixtures" / "orcapod" / "failures"
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "1", "5")
        await settle(pilot)
        assert [r["subject_id"] for r in _table(app).rows.to_pylist()] == ["sub-15"]
        await pilot.press("escape")
        await settle(pilot)
        assert _table(app).row_count == 20
        await pilot.press("f")
        await settle(pilot)
        assert _table(app).row_count == 3  # the app opens on the worst node: score, 3 FAILED
        await pilot.press("a")
        await settle(pilot)
        assert _table(app).row_count == 20


def test_import_does_not_pull_textual() -> None:
    """The CLI's summary path must not import Textual: orcatui.app is lazy."""
    import subprocess
    import sys

    code = "import sys, orcatui.app; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
