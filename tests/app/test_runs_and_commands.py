"""Pilot tests on the three-run fixture: the run picker, and the command palette."""

from __future__ import annotations

from support.app import APP_FIXTURES, make_app, settle, sync, wait_for
from textual.command import CommandList, CommandPalette
from textual.widgets import OptionList

from orcatui.app.header import StatusHeader
from orcatui.app.main import OrcaApp
from orcatui.app.node_tree import NodeTree
from orcatui.app.packet_table import PacketTable
from orcatui.app.run_picker import ALL_RUNS, RunPicker

THREE = APP_FIXTURES / "three_runs"
RUN1, RUN2, RUN3 = "0193d1a5e0000001", "0193d1a5e0000002", "0193d1a5e0000003"


def _header(app: OrcaApp) -> str:
    return str(app.main.query_one(StatusHeader).render())  # type: ignore[union-attr]


def _table(app: OrcaApp) -> PacketTable:
    return app.main.query_one(PacketTable)  # type: ignore[union-attr]


def _packets(app: OrcaApp) -> dict[str, tuple[str, str]]:
    """Subject id → (run id, shown state) of every row in the packet table."""
    return {r["subject_id"]: (r["run_id"], r["state"]) for r in _table(app).rows.to_pylist()}


async def _select_score(pilot) -> None:
    app: OrcaApp = pilot.app
    await settle(pilot)
    tree = app.main.query_one(NodeTree)  # type: ignore[union-attr]
    for _key, line in tree.node_lines():
        if str(line.label).startswith("score"):
            tree.move_cursor(line)
    await settle(pilot)
    assert app.main.state.node is not None and app.main.state.node[1][0] == "compute_score"


@sync
async def test_run_picker_lists_runs_and_picks_the_oldest() -> None:
    """``r`` lists every run newest first; picking the oldest shows it in header and table."""
    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        await _select_score(pilot)
        # The newest run by default: a dead run whose unfinished packets are LOST.
        assert f"run {RUN3} (newest)" in _header(app)
        assert "● dead · heartbeat stopped 35m ago · likely" in _header(app)
        assert _packets(app) == {
            "sub-01": (RUN3, "SUCCESS"),
            "sub-02": (RUN3, "SUCCESS"),
            "sub-03": (RUN3, "LOST"),
            "sub-04": (RUN3, "LOST"),
            "sub-05": (RUN3, "LOST"),
        }

        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RunPicker)
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids == [ALL_RUNS, RUN3, RUN2, RUN1]
        assert options.highlighted == 1  # the run shown now
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(1, 4)]
        assert "● dead · heartbeat stopped 35m ago · likely" in prompts[0]
        assert "⊘ 3 lost" in prompts[0]
        assert "● ended · completed" in prompts[1]
        assert "↺ 14 cached" in prompts[1]
        assert "● ended · failed" in prompts[2]
        assert "✗ 2 failed" in prompts[2]

        # The keys of any list: j/k, g/G.
        await pilot.press("j")
        assert options.highlighted == 2
        await pilot.press("k", "k")
        assert options.highlighted == 0
        await pilot.press("G")
        assert options.highlighted == 3
        await pilot.press("g")
        assert options.highlighted == 0

        await pilot.press("end", "enter")
        await settle(pilot)
        assert app.screen is app.main
        header = _header(app)
        assert f"run {RUN1} (picked)" in header
        assert "● ended · failed" in header
        assert "LOST" not in header  # no badge: run 1 left nothing in RUNNING
        expected = {f"sub-{i:02d}": (RUN1, "SUCCESS") for i in range(1, 9)}
        expected["sub-03"] = expected["sub-06"] = (RUN1, "FAILED")
        assert _packets(app) == expected
        assert "8 of 8 packets" in str(app.main.query_one("#filter-bar").render())

        # The picker now marks the picked run; "latest per packet, all runs" mixes runs.
        await pilot.press("r")
        await settle(pilot)
        assert app.screen.query_one(OptionList).highlighted == 3
        await pilot.press("home", "enter")
        await settle(pilot)
        assert "latest per packet, all runs" in _header(app)
        assert _packets(app) == {
            "sub-01": (RUN3, "SUCCESS"),
            "sub-02": (RUN3, "SUCCESS"),
            "sub-03": (RUN3, "LOST"),
            "sub-04": (RUN3, "LOST"),
            "sub-05": (RUN3, "LOST"),
            "sub-06": (RUN2, "SUCCESS"),
            "sub-07": (RUN2, "CACHED"),
            "sub-08": (RUN2, "CACHED"),
        }

        # Back to the newest run; escape leaves the view alone.
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert "latest per packet, all runs" in _header(app)
        await pilot.press("r", "home", "down", "enter")
        await settle(pilot)
        assert f"run {RUN3} (newest)" in _header(app)
        assert len(_packets(app)) == 5


@sync
async def test_command_palette_sets_the_filter() -> None:
    """ctrl+p, type a command's name, enter: the command runs on the main screen."""
    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        await _select_score(pilot)
        assert app.main.state.filter == "all"
        assert _table(app).row_count == 5
        await pilot.press("ctrl+p")
        assert await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"lost")

        def offered() -> bool:
            commands = app.screen.query_one(CommandList)
            return commands.option_count > 0 and str(
                commands.get_option_at_index(0).prompt
            ).startswith("Show lost packets")

        assert await wait_for(pilot, offered)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen is app.main
        assert app.main.state.filter == "lost"
        assert {s for _, s in _packets(app).values()} == {"LOST"}
        assert _table(app).row_count == 3
        bar = str(app.main.query_one("#filter-bar").render())
        assert "3 of 5 packets" in bar and "filter  lost" in bar


def test_verdict_wording() -> None:
    """Header and picker say liveness · reason · certainty once each (model reasons unchanged)."""
    from orcatui.app.render import verdict_text
    from orcatui.model.runs import Certainty, Liveness, Verdict

    cases = [
        (Liveness.ENDED, "run ended (completed)", Certainty.CERTAIN, "● ended · completed"),
        (Liveness.ENDED, "run ended", Certainty.CERTAIN, "● ended"),
        (
            Liveness.DEAD,
            "process gone (pid 42)",
            Certainty.CERTAIN,
            "● dead · process gone (pid 42) · certain",
        ),
        (
            Liveness.DEAD,
            "heartbeat stopped 4m ago",
            Certainty.LIKELY,
            "● dead · heartbeat stopped 4m ago · likely",
        ),
        (
            Liveness.OVER,
            "no event for 2h",
            Certainty.PRESUMED,
            "● over · no event for 2h · presumed",
        ),
        (Liveness.LIVE, "heartbeat fresh", Certainty.CERTAIN, "● live · heartbeat fresh"),
        (
            Liveness.LIVE,
            "last event 3s ago",
            Certainty.PRESUMED,
            "● live · last event 3s ago · presumed",
        ),
    ]
    for liveness, reason, certainty, shown in cases:
        assert verdict_text(Verdict(liveness, reason, certainty)).plain == shown
    assert verdict_text(None).plain == "no run"


@sync
async def test_run_picker_takes_a_typed_prefix() -> None:
    """``/`` in the picker: a unique prefix shows that run; an ambiguous one says so in a line."""
    app = make_app(THREE)
    async with app.run_test(size=(120, 36)) as pilot:
        await _select_score(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("slash", *"0193d1a5e000000", "enter")  # all three runs match
        await settle(pilot)
        assert isinstance(app.screen, RunPicker)
        assert any("matches 3 runs" in n for n in app.notices)
        prefix = app.screen.query_one("#run-prefix")
        prefix.value = RUN1  # the runs differ only in their last character
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.main
        assert f"run {RUN1} (picked)" in _header(app)
