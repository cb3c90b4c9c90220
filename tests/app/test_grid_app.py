"""The runs × nodes grid, the diff screen and run picking, driven by a pilot on real tables."""

from __future__ import annotations

from support.app import APP_FIXTURES, make_app, settle, sync
from support.events import T0, packet, write_status

from orcatui.app.details import DetailsScreen
from orcatui.app.diff_view import DiffScreen
from orcatui.app.grid import GridScreen, GridView, cell_text
from orcatui.app.main import MonitorScreen
from orcatui.app.packet_table import PacketTable

THREE = APP_FIXTURES / "three_runs"
R1, R2, R3 = "0193d1a5e0000001", "0193d1a5e0000002", "0193d1a5e0000003"


async def open_grid(pilot) -> GridView:
    await settle(pilot)
    await pilot.press("H")
    await settle(pilot)
    for _ in range(100):
        view = pilot.app.screen.query_one(GridView)
        if view.data is not None:
            return view
        await pilot.pause(0.02)
    raise AssertionError("the grid never loaded")


@sync
async def test_grid_then_run_then_packet():
    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_grid(pilot)
        assert isinstance(app.screen, GridScreen)
        grid = view.data.grid
        assert grid.runs == (R3, R2, R1)  # newest left
        assert grid.names == ("load", "score")  # tree order
        info = str(app.screen.query_one("#grid-info").render())
        assert R3 in info and "dead" in info
        await pilot.press("down", "right")  # score, run 2
        assert view.cursor() == (grid.nodes[1], R2)
        info = str(app.screen.query_one("#grid-info").render())
        assert R2 in info and "score" in info
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        assert screen.state.node == (grid.pipeline, grid.nodes[1])
        assert screen.state.view_of(grid.pipeline).run_id == R2
        table = screen.query_one(PacketTable)
        assert table.row_count > 0
        assert set(table.rows.column("run_id").to_pylist()) == {R2}
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailsScreen)
        assert app.screen.details.row["run_id"] == R2


@sync
async def test_grid_with_runs_that_reached_different_nodes(tmp_path):
    write_status(tmp_path, "etl", ("clean",), packet("a-run", T0, T0 + 1, "SUCCESS", subject="1"))
    rows = packet("b-run", T0 + 100, T0 + 101, "FAILED", "boom", subject="1")
    write_status(tmp_path, "etl", ("clean",), rows)
    write_status(tmp_path, "etl", ("plot",), packet("b-run", T0 + 102, T0 + 103, "SUCCESS", p="x"))
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_grid(pilot)
        grid = view.data.grid
        assert grid.runs == ("b-run", "a-run")
        plot = grid.names.index("plot")
        assert not grid.cell(plot, 1).ran  # plot did not run in a-run: an empty cell
        assert cell_text(grid.counts[plot, 1], int(grid.worst[plot, 1]), False)[1] is None
        clean = grid.names.index("clean")
        assert grid.cell(clean, 0).worst == "FAILED"
        await pilot.press("down" if plot > clean else "up", "right")
        info = str(app.screen.query_one("#grid-info").render())
        assert "did not run" in info


@sync
async def test_diff_from_grid_default_pair_and_marked_pair():
    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_grid(pilot)
        await pilot.press("d")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        for _ in range(100):
            if screen.diff is not None:
                break
            await pilot.pause(0.02)
        assert (screen.diff.from_run, screen.diff.to_run) == (R2, R3)  # the default pair
        assert screen.diff.totals()["regressed"] == 3
        pane = str(screen.query_one("#diff-errors").render())
        assert "before" in pane and "after" in pane and "heartbeat" in pane
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, GridScreen)
        await pilot.press("right", "right", "m", "left", "d")  # mark run 1, diff with run 2
        await settle(pilot)
        screen = app.screen
        for _ in range(100):
            if screen.diff is not None:
                break
            await pilot.pause(0.02)
        assert (screen.diff.from_run, screen.diff.to_run) == (R1, R2)
        assert screen.diff.totals()["fixed"] == 2 and screen.diff.regressed == 0


@sync
async def test_grid_is_live_newest_column_updates(tmp_path):
    write_status(tmp_path, "etl", ("clean",), packet("r1", T0, T0 + 1, "SUCCESS", subject="1"))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_grid(pilot)
        assert view.data.grid.cell(0, 0).counts["SUCCESS"] == 1
        write_status(
            tmp_path, "etl", ("clean",), packet("r1", T0 + 2, T0 + 3, "FAILED", "x", subject="2")
        )
        app.read()
        await settle(pilot)
        for _ in range(200):
            if view.data.grid.cell(0, 0).counts["FAILED"] == 1:
                break
            await pilot.pause(0.02)
        assert view.data.grid.cell(0, 0).counts["FAILED"] == 1
        assert view.data.grid.cell(0, 0).worst == "FAILED"


@sync
async def test_diff_from_the_run_picker_mark_then_pick():
    from textual.widgets import OptionList

    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        ol = app.screen.query_one(OptionList)
        ol.highlighted = 3  # run 1 (after "all runs", run 3, run 2)
        await pilot.press("m")
        ol.highlighted = 1  # run 3
        await pilot.press("d")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        for _ in range(100):
            if screen.diff is not None:
                break
            await pilot.pause(0.02)
        assert (screen.diff.from_run, screen.diff.to_run) == (R1, R3)
