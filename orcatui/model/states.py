"""Packet states, their order, and how a packet's state is derived from its events."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """A packet's state as written; LOST is derived (a RUNNING packet of a run not live)."""

    RUNNING = 0
    SUCCESS = 1
    FAILED = 2
    CACHED = 3
    LOST = 4


#: States as written on disk, in the order the summary and the UI list them.
WRITTEN_STATES = ("SUCCESS", "CACHED", "FAILED", "RUNNING")
#: Every state shown, LOST last (it is separate from RUNNING).
SHOWN_STATES = ("SUCCESS", "CACHED", "FAILED", "RUNNING", "LOST")
STATE_CODE = {s.name: int(s) for s in State}


def priority(state: str) -> int:
    """Tie-break rank at equal timestamps: a terminal event wins over RUNNING (DESIGN §4)."""
    return 0 if state == "RUNNING" else 1


def event_order(ts_us: int, state: str, event_id: bytes | None) -> tuple[int, int, bytes]:
    """The total order of a packet's events: (timestamp, terminal-wins, event id)."""
    return (ts_us, priority(state), event_id or b"")
