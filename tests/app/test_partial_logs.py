"""Partial log rows (design.md §3) are shown as partial: the details screen and the report say
the output stops at the last flush (a SIGKILLed writer's last words), never pass it off as final.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from support.app import make_app, settle, sync
from support.killed import killed_writer

from orcatui.app.details import PARTIAL_MARK, DetailsScreen
from orcatui.app.main import OrcaApp
from orcatui.app.packet_table import PacketTable
from orcatui.app.text_view import TextView

RUN = "0193c0ffee000001"


def with_partial_row(root: Path) -> Path:
    """The crashed fixture plus a partial log row (``_log_success`` null) for LOST sub-08."""
    (logs,) = glob.glob(str(root / "**" / "execution_logs"), recursive=True)
    table = pa.table(
        {
            "_log_id": pa.array([bytes(range(16))], pa.binary()),
            "_log_run_id": [RUN],
            "_log_timestamp": ["2026-11-28T15:41:30.250000+00:00"],
            "_log_stdout_log": ["loading sub-08\nstep 1 of 5 done\nstep 2 of 5 done"],
            "_log_stderr_log": [""],
            "_log_python_logs": ["INFO fit: starting step 3"],
            "_log_traceback": pa.array([None], pa.string()),
            "_log_success": pa.array([None], pa.bool_()),
            "subject_id": ["sub-08"],
        }
    )
    pq.write_table(table, Path(logs) / "part-0001.parquet")
    return root


async def _open_first_lost(pilot) -> DetailsScreen:
    await settle(pilot)
    await pilot.press("l")
    await settle(pilot)
    pilot.app.screen.query_one(PacketTable).focus()
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DetailsScreen)
    return screen


def _summary(screen: DetailsScreen) -> str:
    return str(screen.query_one("#details-summary").render())


def _note(screen: DetailsScreen, tab: str) -> str | None:
    return screen.query_one(f"#{tab}").query_one(TextView).note


@sync
async def test_lost_packet_with_a_partial_row_says_its_output_is_partial(copy_sample):
    root = with_partial_row(copy_sample("crashed"))
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_first_lost(pilot)
        assert screen.details.row["subject_id"] == "sub-08"
        assert screen.details.log is not None and screen.details.log.success is None
        summary = _summary(screen)
        assert PARTIAL_MARK in summary
        assert "last flush at 15:41:30, before the packet was lost" in summary
        for tab in ("stdout", "logs"):
            note = _note(screen, tab)
            assert note is not None and note.startswith(PARTIAL_MARK)
        empty = str(screen.query_one("#stderr").query_one(".details-empty").render())
        assert "no stderr" in empty and PARTIAL_MARK in empty


@sync
async def test_a_final_log_row_is_not_marked_partial(copy_sample):
    root = copy_sample("crashed")
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("f")  # the FAILED packet has a final log row (success false)
        await settle(pilot)
        app.main.query_one(PacketTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        assert screen.details.log is not None and screen.details.log.success is False
        assert PARTIAL_MARK not in _summary(screen)


@sync
async def test_sigkilled_writer_details_mark_the_last_words_partial(tmp_path: Path):
    root = killed_writer(tmp_path)
    app = OrcaApp(root, static=True, tick=None)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_first_lost(pilot)
        assert screen.details.row["state"] == "LOST"
        assert PARTIAL_MARK in _summary(screen)
        note = _note(screen, "stdout")
        assert note is not None and "before the packet was lost" in note


def test_report_marks_a_lost_packets_output_partial(tmp_path: Path):
    root = killed_writer(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "orcatui", "report", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert out.returncode == 3, out.stderr  # a LOST packet
    assert "PARTIAL captured output" in out.stdout
    assert "LAST WORDS before the kill" in out.stdout


def test_partial_details_snapshot(snap_compare, copy_sample) -> None:
    """A LOST packet's partial stdout: the summary and the text say where the output stops."""
    root = with_partial_row(copy_sample("crashed"))

    async def run_before(pilot) -> None:
        await _open_first_lost(pilot)

    assert snap_compare(make_app(root), terminal_size=(120, 36), run_before=run_before)


def test_partial_details_snapshot_small(snap_compare, copy_sample) -> None:
    """The same at 80×24."""
    root = with_partial_row(copy_sample("crashed"))

    async def run_before(pilot) -> None:
        await _open_first_lost(pilot)

    assert snap_compare(make_app(root), terminal_size=(80, 24), run_before=run_before)


@sync
async def test_running_packet_with_a_partial_row_says_so_far(tmp_path: Path):
    """A packet still running (its run's heartbeat is fresh): its output is "so far"."""
    import json

    from support.app import CLOCK
    from support.events import iso, log_row, packet, table_dir, write_parquet

    root = tmp_path / "root"
    write_parquet(
        table_dir(root, "etl", ("fit",)),
        packet("r1", CLOCK - 60, CLOCK - 50, "SUCCESS", subject="s1")
        + packet("r1", CLOCK - 30, None, "", subject="s2"),
    )
    write_parquet(
        table_dir(root, "etl", ("fit",), "log"),
        [log_row("r1", CLOCK - 5, stdout="epoch 1 of 9", ok=None, subject="s2")],
    )
    (root / "etl" / "_runs").mkdir(parents=True)
    (root / "etl" / "_runs" / "r1.json").write_text(
        json.dumps(
            {
                "run_id": "r1",
                "host": "elsewhere",
                "pid": 7,
                "started_at": iso(CLOCK - 60),
                "heartbeat_at": iso(CLOCK - 1),
                "heartbeat_interval_s": 5,
            }
        )
    )
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.main.query_one(PacketTable).focus()
        await pilot.press("down")  # s1 (SUCCESS), then s2 (RUNNING)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        assert screen.details.row["state"] == "RUNNING"
        summary = _summary(screen)
        assert PARTIAL_MARK in summary and "the packet is still running" in summary
        note = _note(screen, "stdout")
        assert note is not None and "so far" in note
