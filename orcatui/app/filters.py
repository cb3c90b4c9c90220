"""State filters of the packet table: which key shows which states."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateFilter:
    """A named set of states (``None`` = every state)."""

    name: str
    key: str
    states: tuple[str, ...] | None


FILTERS = (
    StateFilter("all", "a", None),
    StateFilter("failed", "f", ("FAILED",)),
    StateFilter("lost", "l", ("LOST",)),
    StateFilter("running", "u", ("RUNNING",)),
    StateFilter("success", "s", ("SUCCESS",)),
    StateFilter("cached", "d", ("CACHED",)),
)
BY_NAME = {f.name: f for f in FILTERS}
