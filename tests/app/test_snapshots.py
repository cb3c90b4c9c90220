"""SVG snapshots of the main views, with a fixed clock and fixed data (reviewed by eye)."""

from __future__ import annotations

from support.app import APP_FIXTURES, ORCAPOD, make_app, settle

from orcatui.app.main import OrcaApp
from orcatui.app.node_tree import NodeTree
from orcatui.app.packet_table import PacketTable


async def _select_node(pilot, title: str) -> None:
    """Move the tree cursor to the node titled ``title`` and wait for its rows."""
    app: OrcaApp = pilot.app
    await settle(pilot)
    tree = app.screen.query_one(NodeTree)
    for _key, line in tree.node_lines():
        if str(line.label).startswith(title):
            tree.move_cursor(line)
    await settle(pilot)


def test_overview_failures(snap_compare) -> None:
    """The failures sample: tree with counts, the first node's packets."""
    assert snap_compare(make_app(ORCAPOD / "failures"), terminal_size=(120, 36), run_before=settle)


def test_overview_failures_small(snap_compare) -> None:
    """The same at 80×24 stays usable."""
    assert snap_compare(make_app(ORCAPOD / "failures"), terminal_size=(80, 24), run_before=settle)


def test_filter_failed(snap_compare) -> None:
    """The score node filtered to FAILED packets."""

    async def run_before(pilot) -> None:
        await _select_node(pilot, "score")
        await pilot.press("f")
        await settle(pilot)

    assert snap_compare(
        make_app(ORCAPOD / "failures"), terminal_size=(120, 36), run_before=run_before
    )


def test_failed_details(snap_compare) -> None:
    """A FAILED packet's details open on its traceback."""

    async def run_before(pilot) -> None:
        await _select_node(pilot, "score")
        await pilot.press("f")
        await settle(pilot)
        pilot.app.screen.query_one(PacketTable).focus()
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(
        make_app(ORCAPOD / "failures"), terminal_size=(120, 36), run_before=run_before
    )


def test_crashed_run_lost(snap_compare) -> None:
    """A crashed run: LOST packets with their own colour, marker, reason and header badge."""
    assert snap_compare(
        make_app(APP_FIXTURES / "crashed"), terminal_size=(120, 36), run_before=settle
    )


def test_lost_details(snap_compare) -> None:
    """A LOST packet's details say why it is lost and that it has no log row."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        pilot.app.screen.query_one(PacketTable).focus()
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(
        make_app(APP_FIXTURES / "crashed"), terminal_size=(120, 36), run_before=run_before
    )


def test_run_picker(snap_compare) -> None:
    """The run picker on three runs: all-runs view first, then runs newest first, each with its
    liveness (dead, ended · completed, ended · failed) and counts; the shown run is marked."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(120, 36), run_before=run_before
    )


def test_picked_oldest_run(snap_compare) -> None:
    """The oldest of three runs picked: header says so (ended · failed), table shows its scores."""

    async def run_before(pilot) -> None:
        await _select_node(pilot, "score")
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("end", "enter")
        await settle(pilot)

    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(120, 36), run_before=run_before
    )


def test_help(snap_compare) -> None:
    """The help screen lists every binding."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(
        make_app(ORCAPOD / "failures"), terminal_size=(120, 36), run_before=run_before
    )


def test_multi_tag(snap_compare) -> None:
    """Two tag columns, unicode values, a nested pipeline name."""

    async def run_before(pilot) -> None:
        await _select_node(pilot, "score")

    assert snap_compare(
        make_app(ORCAPOD / "multi_tag"), terminal_size=(120, 36), run_before=run_before
    )


def test_hostile_overview(snap_compare) -> None:
    """Markup-like brackets shown literally, escapes stripped, a 1 MB value cut in its cell."""
    assert snap_compare(
        make_app(APP_FIXTURES / "hostile"), terminal_size=(120, 36), run_before=settle
    )


def test_hostile_details(snap_compare) -> None:
    """Captured stdout: ANSI colour kept, every other escape stripped, no markup."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one(PacketTable).focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(
        make_app(APP_FIXTURES / "hostile"), terminal_size=(120, 36), run_before=run_before
    )


def test_hostile_huge_value(snap_compare) -> None:
    """A 1 MB error: one cut cell in the table, shown bounded and scrollable in the details."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one(PacketTable).focus()
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)

    assert snap_compare(
        make_app(APP_FIXTURES / "hostile"), terminal_size=(120, 36), run_before=run_before
    )


def test_crashed_run_lost_light(snap_compare) -> None:
    """The crashed run under a light theme: every state colour legible on a light background."""
    assert snap_compare(
        make_app(APP_FIXTURES / "crashed", theme="textual-light"),
        terminal_size=(120, 36),
        run_before=settle,
    )


# -- across runs (issue 11): grid, diff, packet history ------------------------------------------
async def _grid(pilot) -> None:
    from orcatui.app.grid import GridView

    await settle(pilot)
    await pilot.press("H")
    await settle(pilot)
    view = pilot.app.screen.query_one(GridView)
    for _ in range(200):
        if view.data is not None:
            break
        await pilot.pause(0.02)
    await pilot.press("down")  # the score node, newest run: three LOST packets
    await settle(pilot)


async def _diff(pilot) -> None:
    await _grid(pilot)
    await pilot.press("d")  # the default pair: run 2 → run 3
    await settle(pilot)
    screen = pilot.app.screen
    for _ in range(200):
        if getattr(screen, "diff", None) is not None:
            break
        await pilot.pause(0.02)
    await settle(pilot)


async def _history(pilot) -> None:
    await _select_node(pilot, "score")
    await pilot.press("l")
    await settle(pilot)
    pilot.app.screen.query_one(PacketTable).focus()
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)


def test_runs_grid(snap_compare) -> None:
    """Runs × nodes of the three-run fixture: newest left, bars by worst state, cursor line."""
    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(120, 36), run_before=_grid
    )


def test_runs_grid_small(snap_compare) -> None:
    """The grid at 80×24."""
    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(80, 24), run_before=_grid
    )


def test_run_diff(snap_compare) -> None:
    """The default diff (run 2 → run 3): regressed to LOST and missing packets, both errors."""
    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(120, 36), run_before=_diff
    )


def test_run_diff_small(snap_compare) -> None:
    """The diff at 80×24."""
    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(80, 24), run_before=_diff
    )


def test_packet_history(snap_compare) -> None:
    """A LOST packet's details: its history strip and the history tab, newest run first."""
    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(120, 36), run_before=_history
    )


def test_packet_history_small(snap_compare) -> None:
    """The packet history at 80×24."""
    assert snap_compare(
        make_app(APP_FIXTURES / "three_runs"), terminal_size=(80, 24), run_before=_history
    )


# -- issue 13: the timeline and a historical header --------------------------------------------
async def _timeline(pilot) -> None:
    await settle(pilot)
    await pilot.press("T")
    await settle(pilot)


async def _historical(pilot) -> None:
    await settle(pilot)
    for _ in range(3):
        await pilot.press("less_than_sign")
        await settle(pilot)


def test_timeline_crashed(snap_compare) -> None:
    """The crashed run's timeline: bars, LOST to the moment of death (†), concurrency."""
    app = make_app(APP_FIXTURES / "crashed")
    assert snap_compare(app, terminal_size=(120, 36), run_before=_timeline)


def test_timeline_crashed_small(snap_compare) -> None:
    """The same at 80×24."""
    app = make_app(APP_FIXTURES / "crashed")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_timeline)


def test_historical_header(snap_compare) -> None:
    """Three events back: the reversed AS OF badge, the run live then, nothing LOST yet."""
    app = make_app(APP_FIXTURES / "crashed")
    assert snap_compare(app, terminal_size=(120, 36), run_before=_historical)


def test_historical_header_small(snap_compare) -> None:
    """The same at 80×24."""
    app = make_app(APP_FIXTURES / "crashed")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_historical)
