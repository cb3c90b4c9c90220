"""The footer (:class:`orcatui.app.footer.KeyFooter`) recomposes only when the keys it shows
change: it always shows what Textual's own footer would compose for the bindings active now
(focus moves, screens with other bindings, the help screen, disabled actions), and keeps its
widgets when going back to a screen whose keys did not change (the problems view's ``escape``)."""

from __future__ import annotations

from typing import Any

from support.app import ORCAPOD, make_app, settle, sync
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from orcatui.app.details import DetailsScreen
from orcatui.app.footer import KeyFooter
from orcatui.app.help import HelpScreen
from orcatui.app.main import MonitorScreen, OrcaApp
from orcatui.app.node_tree import NodeTree
from orcatui.app.packet_table import PacketTable
from orcatui.app.problems import ProblemList, ProblemsScreen


def _key(k: FooterKey) -> tuple[Any, ...]:
    return (k.key, k.key_display, k.description, k.action, k._disabled, str(k.tooltip or ""))


def shown(screen: Screen) -> list[tuple[Any, ...]]:
    """The keys the screen's footer shows (its mounted FooterKey widgets, in order)."""
    return [_key(k) for k in screen.query_one(KeyFooter).query(FooterKey)]


def stock(screen: Screen) -> list[tuple[Any, ...]]:
    """What Textual's own footer composes for the screen's active bindings now."""
    footer = screen.query_one(KeyFooter)
    with footer._context():  # as when Textual composes it (its keys bind to the footer)
        return [_key(k) for k in Footer.compose(footer) if isinstance(k, FooterKey)]


def widgets(screen: Screen) -> list[FooterKey]:
    """The footer's key widgets themselves."""
    return list(screen.query_one(KeyFooter).query(FooterKey))


def descriptions(screen: Screen) -> list[str]:
    """The descriptions the footer shows."""
    return [k[2] for k in shown(screen)]


async def _until(pilot: Any, cond: Any, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.02)
    assert cond()


def _main(app: OrcaApp) -> MonitorScreen:
    assert app.main is not None
    return app.main


@sync
async def test_footer_follows_focus_screens_and_help_and_keeps_unchanged_keys() -> None:
    app = make_app(ORCAPOD / "failures")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = _main(app)
        assert app.screen is main
        assert shown(main) == stock(main)
        assert {"Quit", "Help", "Runs", "Search", "Timeline", "Problems"} <= set(descriptions(main))

        # focus moves: the packet table adds its `enter` key, the tree has none shown
        main.query_one(PacketTable).focus()
        await settle(pilot)
        assert "Details" in descriptions(main)
        assert shown(main) == stock(main)
        main.query_one(NodeTree).focus()
        await settle(pilot)
        assert "Details" not in descriptions(main)
        assert shown(main) == stock(main)
        await pilot.press("tab")  # to the table, as a user moves
        await settle(pilot)
        assert main.focused is main.query_one(PacketTable)
        assert "Details" in descriptions(main)
        assert shown(main) == stock(main)
        before, keys = widgets(main), shown(main)
        picture = app.export_screenshot()

        # another screen, other keys
        await pilot.press("p")
        await settle(pilot)
        problems = app.screen
        assert isinstance(problems, ProblemsScreen)
        await _until(pilot, lambda: problems.query_one(ProblemList).problems is not None)
        assert shown(problems) == stock(problems)
        assert {"Back", "Expand group / open packet"} <= set(descriptions(problems))
        assert "Runs" not in descriptions(problems)

        # back: the same keys, shown by the same widgets (no recomposition), the same picture
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is main
        assert shown(main) == stock(main) == keys
        assert widgets(main) == before
        assert all(k.is_attached for k in before)
        assert not problems.is_attached  # the problems view is gone, not kept
        assert app.export_screenshot() == picture
        await pilot.press("p")  # `q` goes back too
        await settle(pilot)
        assert isinstance(app.screen, ProblemsScreen) and app.screen is not problems
        await pilot.press("q")
        await settle(pilot)
        assert app.screen is main and app.is_running
        assert widgets(main) == before
        assert app.export_screenshot() == picture

        # the help screen is generated from the bindings: it names every key the footer shows
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help-text", Static).render())
        for _k, display, description, *_ in keys:
            assert description in help_text, description
            assert display in help_text, display
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is main
        assert shown(main) == stock(main) == keys
        assert widgets(main) == before

        # the details screen's keys, then back to the main screen's
        await pilot.press("enter")
        await settle(pilot)
        await _until(pilot, lambda: isinstance(app.screen, DetailsScreen))
        details = app.screen
        assert {"Back", "Next packet", "Previous packet"} <= set(descriptions(details))
        assert shown(details) == stock(details)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is main
        assert shown(main) == stock(main) == keys

        # focus moves after all that still change the footer
        main.query_one(NodeTree).focus()
        await settle(pilot)
        assert "Details" not in descriptions(main)
        assert shown(main) == stock(main)


class _Toggle(App[None]):
    """A small real app: `t` enables or disables `s` (shown dim), `h` hides or shows `x`."""

    BINDINGS = [  # noqa: RUF012
        Binding("s", "save", "Save"),
        Binding("t", "toggle_save", "Toggle save"),
        Binding("x", "extra", "Extra"),
        Binding("h", "toggle_extra", "Toggle extra"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.can_save = True
        self.show_extra = True

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return True if self.can_save else None  # None: shown, disabled
        if action == "extra":
            return self.show_extra  # False: hidden
        return True

    def action_toggle_save(self) -> None:
        self.can_save = not self.can_save
        self.refresh_bindings()

    def action_toggle_extra(self) -> None:
        self.show_extra = not self.show_extra
        self.refresh_bindings()

    def action_save(self) -> None:
        pass

    def action_extra(self) -> None:
        pass


def _states(screen: Screen) -> list[tuple[str, bool]]:
    """(description, disabled) of the app's own keys shown (not the command palette's)."""
    return [(k[2], k[4]) for k in shown(screen) if k[3] != "command_palette"]


@sync
async def test_footer_shows_disabled_and_hidden_actions_as_they_change() -> None:
    app = _Toggle()
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert shown(screen) == stock(screen)
        all_on = [
            ("Save", False),
            ("Toggle save", False),
            ("Extra", False),
            ("Toggle extra", False),
        ]
        assert _states(screen) == all_on
        await pilot.press("t")  # only the enabled state of one key changes
        await pilot.pause()
        await pilot.pause()
        assert shown(screen) == stock(screen)
        assert _states(screen) == [("Save", True), *all_on[1:]]
        await pilot.press("h")
        await pilot.pause()
        await pilot.pause()
        assert shown(screen) == stock(screen)
        assert _states(screen) == [("Save", True), ("Toggle save", False), ("Toggle extra", False)]
        kept = widgets(screen)
        app.refresh_bindings()  # nothing changed: the same widgets
        await pilot.pause()
        await pilot.pause()
        assert widgets(screen) == kept
        await pilot.press("t", "h")
        await pilot.pause()
        await pilot.pause()
        assert shown(screen) == stock(screen)
        assert _states(screen) == all_on


@sync
async def test_back_from_the_problems_view_at_once_and_twice() -> None:
    """`p` then `escape` at once (the problems maybe still computing), and `escape` twice: the
    main screen is back with its own keys, its second `escape` is its own (clear search)."""
    app = make_app(ORCAPOD / "failures")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main = _main(app)
        keys = shown(main)
        picture = app.export_screenshot()
        await pilot.press("p", "escape")
        await settle(pilot)
        assert app.screen is main and app.is_running
        assert not any(isinstance(s, ProblemsScreen) for s in app.screen_stack)
        assert shown(main) == stock(main) == keys
        assert app.export_screenshot() == picture
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ProblemsScreen)
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.screen is main and app.is_running
        assert shown(main) == stock(main) == keys
        assert app.export_screenshot() == picture
