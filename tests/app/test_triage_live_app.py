"""Issues 10 and 11 in the app, wave 4: the problems view follows live data, the grid shows
slow packets (pilot tests on real Parquet files)."""

from __future__ import annotations

import time
from pathlib import Path

from support.app import CLOCK, make_app, settle, sync, wait_for
from support.events import packet, write_status

from orcatui.app.grid import GridView
from orcatui.app.main import OrcaApp
from orcatui.app.problems import ProblemList, ProblemsScreen

NODE = ("clean", "v0")


def _live_app(root: Path) -> OrcaApp:
    """A watching app (change feed, or the built-in poll) on the real clock."""
    return OrcaApp(root, poll=0.2, static=False, tick=0.2, safety_refresh=0.5)


def _titles(plist: ProblemList) -> dict[str, int]:
    assert plist.problems is not None
    return {g.title: g.count for g in plist.problems.groups}


def _cursor_packet(plist: ProblemList) -> tuple[str, str | None]:
    assert plist.problems is not None
    g, k = plist.locate(plist.cursor)
    group = plist.problems.groups[g]
    if k < 0:
        return group.title, None
    _key, _name, rows, i = group.packet(k)
    return group.title, rows.column("key")[i].as_py()


@sync
async def test_problems_view_follows_new_and_fixed_packets(tmp_path: Path) -> None:
    t0 = time.time() - 60
    rows = []
    for i in range(4):
        rows += packet("r1", t0 + i, t0 + i + 1, "FAILED", f"ValueError: bad value {i}", s=i)
    rows += packet("r1", t0, t0 + 1, "SUCCESS", s=9)
    write_status(tmp_path, "etl", NODE, rows)
    app = _live_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen))
        plist = app.screen.query_one(ProblemList)
        assert await wait_for(pilot, lambda: plist.problems is not None)
        assert _titles(plist) == {"ValueError: bad value <num>": 4}
        await pilot.press("j", "j", "j")  # the third packet of the (only, expanded) group
        title, key = _cursor_packet(plist)
        assert key is not None
        # A retry fixes the first packet; a new kind of failure arrives.
        t1 = time.time() - 5
        later = packet("r1", t1, t1 + 1, "SUCCESS", s=0)
        later += packet("r1", t1, t1 + 1, "FAILED", "KeyError: 'subject'", s=20)
        later += packet("r1", t1, t1 + 1, "FAILED", "KeyError: 'session'", s=21)
        write_status(tmp_path, "etl", NODE, later)
        assert await wait_for(
            pilot,
            lambda: _titles(plist) == {"ValueError: bad value <num>": 3, "KeyError: <str>": 2},
        )
        assert isinstance(app.screen, ProblemsScreen)  # not reopened: the same screen
        # The cursor is still on the same packet, and its group is still expanded.
        assert _cursor_packet(plist) == (title, key)
        assert plist.line_count == 2 + 3


def _slow_root(root: Path) -> None:
    """A live run (events a minute before CLOCK): 6 packets of ~1 s, one RUNNING for 100 s."""
    t = CLOCK - 200
    rows = []
    for i in range(6):
        rows += packet("r-live", t + i, t + i + 1, "SUCCESS", s=i)
    rows += packet("r-live", CLOCK - 100, None, "", s=99)
    rows += packet("r-live", CLOCK - 60, CLOCK - 59.5, "SUCCESS", s=98)
    write_status(root, "etl", NODE, rows)


@sync
async def test_grid_cells_count_slow_packets(tmp_path: Path) -> None:
    _slow_root(tmp_path)
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        view = app.screen.query_one(GridView)
        assert await wait_for(pilot, lambda: view.data is not None)
        grid = view.data.grid
        assert len(grid.runs) == 1
        cell = grid.cell(0, 0)
        assert cell.worst == "slow"
        assert cell.counts["slow"] == 1 and cell.counts["RUNNING"] == 1
        await pilot.press("n")  # counts instead of bars
        await settle(pilot)
        info = str(app.screen.query_one("#grid-info").render())
        assert "slow" in info
