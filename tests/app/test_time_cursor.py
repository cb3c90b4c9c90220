"""The time cursor, the timeline screen, saving the table, and last words in the details
(issue 13), driven through the real app with a pilot on real files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from support.app import APP_FIXTURES, make_app, settle, sync, wait_for
from support.killed import killed_writer
from support.observers import REPO

from orcatui.app.details import DetailsScreen
from orcatui.app.header import StatusHeader
from orcatui.app.main import OrcaApp
from orcatui.app.packet_table import PacketTable
from orcatui.app.text_view import TextView
from orcatui.app.time_cursor import save_table
from orcatui.app.timeline import TimelineScreen, TimelineView

CRASHED = APP_FIXTURES / "crashed"


def counts(app: OrcaApp) -> dict[str, int]:
    frame = app.main.frame
    assert frame is not None
    (p,) = frame.snapshot.pipelines
    return dict(p.counts)


def header(app: OrcaApp) -> str:
    return str(app.main.query_one(StatusHeader)._shown)


@sync
async def test_step_back_by_event_and_minute_then_live():
    app = make_app(CRASHED)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        live = counts(app)
        assert live["LOST"] == 5 and "AS OF" not in header(app)
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert app.time_at is not None
        one_back = counts(app)
        assert "AS OF" in header(app) and "historical" in header(app)
        # one event back: one packet fewer finished, or one fewer started
        assert sum(one_back.values()) <= sum(live.values())
        assert one_back != live
        # the writer's heartbeat went on after then: the run was live, nothing LOST yet
        assert one_back["LOST"] == 0 and one_back["RUNNING"] >= 1
        await pilot.press("comma")
        await settle(pilot)
        earlier = counts(app)
        assert sum(earlier.values()) < sum(one_back.values())  # a minute before the end
        await pilot.press("full_stop")
        await settle(pilot)
        assert counts(app) == one_back or app.time_at is None or counts(app) != earlier
        await pilot.press("L")
        await settle(pilot)
        assert app.time_at is None
        assert counts(app) == live
        assert "AS OF" not in header(app)


@sync
async def test_forward_past_the_last_event_returns_to_live():
    app = make_app(CRASHED)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert app.time_at is not None
        await pilot.press("greater_than_sign")
        await settle(pilot)
        await pilot.press("greater_than_sign")
        await settle(pilot)
        assert app.time_at is None
        assert counts(app)["LOST"] == 5


@sync
async def test_save_table_as_shown(copy_sample, tmp_path: Path):
    root = copy_sample("crashed")
    app = make_app(root)
    out = tmp_path / "saved"
    out.mkdir()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")  # LOST only
        await settle(pilot)
        save_table(app.main, out)
        await settle(pilot)
        (saved,) = out.glob("*.csv")
        assert saved.name.startswith("orcatui-score-0193c0ffee000001-")
        assert any(str(saved) in n for n in app.notices)
    rows = list(csv.DictReader(saved.open()))
    assert [r["state"] for r in rows] == ["LOST"] * 5
    assert rows[0]["node"] == "score" and rows[0]["lost_reason"]
    assert {r["subject_id"] for r in rows} == {f"sub-{i:02d}" for i in range(8, 13)}


@sync
async def test_save_key_writes_to_the_working_folder(copy_sample, tmp_path: Path, monkeypatch):
    root = copy_sample("crashed")
    app = make_app(root)
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
    (saved,) = tmp_path.glob("orcatui-*.csv")
    assert len(list(csv.DictReader(saved.open()))) == 12


@sync
async def test_timeline_opens_and_enter_opens_a_packet():
    app = make_app(CRASHED)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, TimelineScreen)
        view = app.screen.query_one(TimelineView)
        tl = view.data.timeline
        assert tl.packets == 12 and tl.death_us is not None
        lay = view.current_layout()
        (lane,) = lay.lanes
        assert lane.mode == "bars"
        # put the cursor at the far right (the LOST packets run to the moment of death)
        view.cursor = (0, lay.width - 1)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.details.row["state"] == "LOST"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TimelineScreen)
        win = view.window
        await pilot.press("plus")
        assert view.window.span_us < win.span_us
        await pilot.press("0")
        assert view.window == win
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.main


def _stdout_text(screen: DetailsScreen) -> str:
    return "\n".join(screen.query_one("#stdout").query_one(TextView).source)


@sync
async def test_sigkilled_writer_last_words_in_the_details(tmp_path: Path):
    root = killed_writer(tmp_path)
    app = OrcaApp(root, static=True, tick=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        table = app.main.query_one(PacketTable)
        assert table.row_count == 1
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        assert screen.details.row["state"] == "LOST"
        assert "LAST WORDS before the kill" in _stdout_text(screen)
        stderr = "\n".join(screen.query_one("#stderr").query_one(TextView).source)
        assert "oops on stderr" in stderr


FOLLOWED = r"""
import sys, time, pathlib
import observers
root, go = sys.argv[1], pathlib.Path(sys.argv[2])
with observers.run(root, pipeline="slow", run_id="run-f", flush_interval=0.05) as run:
    with run.node("fit") as node:
        with node.packet(subject="s1"):
            print("first line", flush=True)
            while not go.exists():
                time.sleep(0.02)
            print("second line", flush=True)
            while True:
                time.sleep(0.02)
"""


@sync
async def test_details_follow_a_running_packets_output_live(tmp_path: Path):
    script = tmp_path / "w.py"
    script.write_text(FOLLOWED)
    root, go = tmp_path / "root", tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(script), str(root), str(go)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not list(root.glob("**/execution_logs/*.parquet")):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        app = OrcaApp(root, poll=0.1, use_feed=False)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert await wait_for(pilot, lambda: app.main.query_one(PacketTable).row_count == 1)
            app.main.query_one(PacketTable).focus()
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen))
            screen = app.screen
            assert screen.details.row["state"] == "RUNNING"
            assert await wait_for(pilot, lambda: "first line" in _stdout_text(screen))
            assert "second line" not in _stdout_text(screen)
            go.touch()
            assert await wait_for(pilot, lambda: "second line" in _stdout_text(screen), 20)
            assert screen.details.row["state"] == "RUNNING"
    finally:
        proc.kill()
        proc.wait()


def test_steps_in_history_compute_no_problems_ahead(monkeypatch):
    """The problems view is of the live data: a cursor step (whose moment has other problem
    counts) does not compute it again on the model thread; back at live, it is computed."""
    import orcatui.app.problems as problems_module

    asked: list[float | None] = []
    real = problems_module.problems_for

    def counted(app, *args, **kwargs):
        asked.append(app.time_at)
        return real(app, *args, **kwargs)

    monkeypatch.setattr(problems_module, "problems_for", counted)
    _steps_in_history(asked)


@sync
async def _steps_in_history(asked: list[float | None]) -> None:
    app = make_app(CRASHED)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert asked and all(at is None for at in asked)  # live frames with LOST packets
        asked.clear()
        for key in ("less_than_sign", "comma", "comma"):
            await pilot.press(key)
            await settle(pilot)
        assert app.time_at is not None
        assert asked == []
        await pilot.press("L")
        await settle(pilot)
        assert app.time_at is None
        await pilot.press("p")  # the view opens on the live problems
        await settle(pilot)
        assert asked and asked[-1] is None


@sync
async def test_big_builds_leave_the_heap_settled():
    """After the first load and after a time cursor is built, the objects alive are frozen out
    of the cyclic collector's full passes (which took 45-110 ms in the middle of key presses)."""
    import gc

    gc.unfreeze()
    app = make_app(CRASHED)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        after_load = gc.get_freeze_count()
        assert after_load > 0
        gc.unfreeze()
        await pilot.press("less_than_sign")  # entering history builds the cursor
        await settle(pilot)
        assert app.time_at is not None
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
