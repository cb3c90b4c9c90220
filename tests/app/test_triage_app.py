"""Issue 10 in the app, through the pilot: the problems view, sorting, ``[`` / ``]``, keys,
the worst node first, LOST durations, run events."""

from __future__ import annotations

import time
from pathlib import Path

from support.app import APP_FIXTURES, CLOCK, ORCAPOD, make_app, settle, sync
from support.events import packet, write_status
from textual.widgets import Static

from orcatui.app.details import DetailsScreen
from orcatui.app.help import HelpScreen
from orcatui.app.main import MonitorScreen, OrcaApp
from orcatui.app.node_tree import NodeTree, middle_cut, node_label
from orcatui.app.packet_table import PacketTable
from orcatui.app.problems import ProblemList, ProblemsScreen
from orcatui.app.run_picker import RunPicker
from orcatui.app.triage_keys import RunEvents
from orcatui.model.monitor import Monitor
from orcatui.model.progress import Progress


def _table(app: OrcaApp) -> PacketTable:
    main = app.main
    assert main is not None
    return main.query_one(PacketTable)


async def _until(pilot, cond, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.02)
    assert cond()


@sync
async def test_opens_on_the_worst_node_and_p_groups_problems() -> None:
    app = make_app(ORCAPOD / "failures")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = app.main
        assert main is not None and main.state.node is not None
        # the node with the FAILED packets (not the first node) is shown
        assert main.state.node[1][0] == "compute_score"
        await pilot.press("p")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ProblemsScreen)
        plist = screen.query_one(ProblemList)
        await _until(pilot, lambda: plist.problems is not None)
        assert plist.problems is not None
        (group,) = plist.problems.groups
        # one group, expanded because it is the only one: the group line + 3 packets
        assert group.kind == "FAILED" and group.count == 3 and plist.line_count == 4
        assert group.title.startswith("ValueError: z_value <num> is outside")
        title = str(screen.query_one("#problems-title", Static).render())
        assert "1 group " in title and "groups" not in title
        assert plist.has_focus
        await pilot.press("j", "enter")  # the first packet: its details
        await settle(pilot)
        await _until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        details = app.screen
        assert isinstance(details, DetailsScreen)
        first = details.details.row["subject_id"]
        await pilot.press("n")
        await settle(pilot)
        await _until(pilot, lambda: details.details.row["subject_id"] != first)
        assert plist.locate(plist.cursor) == (0, 1)
        await pilot.press("N")
        await settle(pilot)
        await _until(pilot, lambda: details.details.row["subject_id"] == first)
        await pilot.press("q")  # q on a sub-screen goes back, it does not quit
        await settle(pilot)
        assert isinstance(app.screen, ProblemsScreen)
        await pilot.press("k", "enter")  # collapse the group
        assert plist.line_count == 1
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MonitorScreen)
        assert app.is_running


@sync
async def test_problems_view_groups_lost_by_reason_worst_first() -> None:
    app = make_app(APP_FIXTURES / "crashed")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        plist = app.screen.query_one(ProblemList)
        await _until(pilot, lambda: plist.problems is not None)
        assert plist.problems is not None
        kinds = [(g.kind, g.count) for g in plist.problems.groups]
        assert kinds == [("LOST", 5), ("FAILED", 1)]  # LOST before FAILED
        assert plist.problems.groups[0].title.startswith("LOST: heartbeat stopped")


@sync
async def test_problems_first_option_opens_the_view() -> None:
    app = make_app(ORCAPOD / "failures", problems_first=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await _until(pilot, lambda: isinstance(app.screen, ProblemsScreen))
    ok = make_app(ORCAPOD / "ok", problems_first=True)
    async with ok.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        assert isinstance(ok.screen, MonitorScreen)


@sync
async def test_sort_keys_and_header_click() -> None:
    app = make_app(ORCAPOD / "failures")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = _table(app)
        table.focus()
        assert table.columns[0].field == "subject_id"  # 83 columns: room for the tags first
        await pilot.press("o")  # sort by the first column (the tag)
        await settle(pilot)
        main = app.main
        assert main is not None and main.state.sort == ("subject_id", False)
        await pilot.press("O")
        await settle(pilot)
        subjects = [r["subject_id"] for r in table.rows.to_pylist()]
        assert subjects == sorted(subjects, reverse=True)
        # a click on the "state" header: by severity, FAILED first
        x = sum(
            c.width + 1 for c in table.columns[: [c.kind for c in table.columns].index("state")]
        )
        await pilot.click(PacketTable, offset=(x + 1, 0))
        await settle(pilot)
        assert main.state.sort == ("state", False)
        states = [r["state"] for r in table.rows.to_pylist()]
        assert states[:3] == ["FAILED"] * 3 and set(states[3:]) == {"SUCCESS"}
        await pilot.click(PacketTable, offset=(x + 1, 0))
        await settle(pilot)
        assert main.state.sort == ("state", True)
        assert [r["state"] for r in table.rows.to_pylist()][-3:] == ["FAILED"] * 3
        await pilot.press("U")  # running longest (none running: the order stays)
        await settle(pilot)
        assert main.state.sort is not None and main.state.sort[0].startswith("~running")
        await pilot.press("U")
        await settle(pilot)
        assert main.state.sort is None


@sync
async def test_brackets_step_through_runs() -> None:
    app = make_app(APP_FIXTURES / "three_runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = app.main
        assert main is not None and main.frame is not None
        p = main.frame.pipeline(main.state.pipeline)
        assert p is not None and len(p.runs) == 3
        newest, middle, oldest = (r.run_id for r in p.runs)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert main.frame.pipeline(main.state.pipeline).run.run_id == middle
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert main.frame.pipeline(main.state.pipeline).run.run_id == oldest
        await pilot.press("left_square_bracket")  # past the oldest: stays, says so
        await settle(pilot)
        assert main.frame.pipeline(main.state.pipeline).run.run_id == oldest
        assert "no older run" in app.notices[-1]
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settle(pilot)
        assert main.frame.pipeline(main.state.pipeline).run.run_id == newest


@sync
async def test_list_keys_and_back_keys() -> None:
    app = make_app(ORCAPOD / "failures")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(NodeTree)
        tree.focus()
        await pilot.press("G")
        assert tree.cursor_line == tree.last_line
        await pilot.press("g")
        assert tree.cursor_line == 0
        # enter on a node moves into its table
        await pilot.press("j", "enter")
        await settle(pilot)
        table = _table(app)
        assert table.has_focus
        await pilot.press("G")
        assert table.cursor == table.row_count - 1
        await pilot.press("g")
        assert table.cursor == 0
        await pilot.press("ctrl+d")
        assert table.cursor > 0
        await pilot.press("ctrl+u")
        assert table.cursor == 0
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RunPicker)
        await pilot.press("q")
        assert isinstance(app.screen, MonitorScreen) and app.is_running
        await pilot.press("enter")  # details of a packet; its text has the focus
        await settle(pilot)
        await _until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        await pilot.pause(0.1)
        assert app.focused is not None and "details-text" in app.focused.classes
        await pilot.press("q")
        assert isinstance(app.screen, MonitorScreen) and app.is_running


@sync
async def test_help_lists_every_binding_once_with_tab() -> None:
    app = make_app(ORCAPOD / "failures")
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for needed in (
            "Problems",
            "Next pane",
            "Older run",
            "Running longest first",
            "Next packet",
            "Half a page down",
            "Problems view",
        ):
            assert needed in text, needed
        sections = [line for line in text.splitlines() if line and not line.startswith(" ")]
        assert len(sections) == len(set(sections))


def test_node_label_keeps_counts_beside_a_long_name() -> None:
    name = "a_very_long_node_name_that_does_not_fit_anywhere"
    counts = {"SUCCESS": 5, "FAILED": 2, "LOST": 1, "RUNNING": 1, "CACHED": 0}
    label = node_label(
        name,
        "",
        counts,
        show_detail=False,
        width=40,
        progress=Progress(7, 200, "declared", 1.0, None),
        slow=1,
        room=40,
    )
    text = label.plain
    assert label.cell_len <= 40
    assert "2✗" in text and "1⊘" in text and "1 slow" in text and "7/200" in text
    assert "…" in text and text.startswith("a_v")
    # the bar: 7 of 200 done → mostly empty
    assert "░░░░" in text
    assert middle_cut("abcdefghij", 5) == "ab…ij"


def test_run_events_end_death_and_first_failure(tmp_path: Path) -> None:
    now = time.time()
    clock = [now]
    root = tmp_path
    write_status(root, ("p",), ("n",), [*packet("r1", now - 5, None, "RUNNING", subject="a")])
    m = Monitor(root, clock=lambda: clock[0], stale_after=60)
    m.refresh()
    events = RunEvents()
    assert events.update(m.snapshot()) == []  # the baseline
    write_status(
        root, ("p",), ("n",), [*packet("r1", now - 4, now - 3, "FAILED", "boom", subject="b")]
    )
    m.refresh()
    (first,) = events.update(m.snapshot())
    assert "first failure in n" in first[0] and first[1] == "error"
    clock[0] = now + 3600  # no event for an hour: the run is over, its RUNNING packet LOST
    out = events.update(m.snapshot())
    assert any("LOST" in msg for msg, _ in out), out


@sync
async def test_lost_duration_stops_at_the_last_sign_of_life() -> None:
    app = make_app(APP_FIXTURES / "crashed")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        rows = _table(app).rows.to_pylist()
        assert rows and all(r["state"] == "LOST" for r in rows)
        # the run record's last heartbeat (15:50:00) is the run's last sign of life; the
        # clock (16:40) would give an age 50 minutes longer
        heartbeat = 1795880400.0 + 600
        for r in rows:
            assert r["duration_s"] == heartbeat - r["started_us"] / 1e6
            assert CLOCK - r["started_us"] / 1e6 > r["duration_s"] + 2900
