"""The main actions in the command palette (ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.screen import Screen

from orcatui.app.filters import FILTERS

if TYPE_CHECKING:
    from orcatui.app.main import OrcaApp


def orca_commands(app: OrcaApp, screen: Screen) -> Iterable[SystemCommand]:
    """Commands for the monitor's main actions."""
    from orcatui.app.main import MonitorScreen

    def run(action: str) -> Callable[[], object]:
        return partial(app.run_action, action, screen)

    yield SystemCommand("Show help", "Every key binding", app.action_help)
    yield SystemCommand("Refresh now", "Read the root again", app.action_refresh)
    if isinstance(screen, MonitorScreen):
        yield SystemCommand("Pick run", "Choose which run is shown", run("pick_run"))
        yield SystemCommand("Search tags", "Filter packets by tag value", run("search"))
        yield SystemCommand("Packet details", "Open the selected packet", run("details"))
        yield SystemCommand("Copy traceback", "Copy the selected packet's traceback", run("copy"))
        for f in FILTERS:
            yield SystemCommand(
                f"Show {f.name} packets", f"State filter: {f.name}", run(f"state('{f.name}')")
            )
