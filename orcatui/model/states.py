"""Packet states and their codes (how a packet's state is derived: :mod:`orcatui.model.packets`)."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """A packet's state as written; LOST is derived (a RUNNING packet of a run not live)."""

    RUNNING = 0
    SUCCESS = 1
    FAILED = 2
    CACHED = 3
    LOST = 4


#: Every state shown, LOST last (it is separate from RUNNING).
SHOWN_STATES = ("SUCCESS", "CACHED", "FAILED", "RUNNING", "LOST")
STATE_CODE = {s.name: int(s) for s in State}
