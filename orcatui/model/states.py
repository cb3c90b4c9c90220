"""Packet states and their codes (how a packet's state is derived: :mod:`orcatui.model.packets`)."""

from __future__ import annotations

import functools
from enum import IntEnum

import pyarrow as pa


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


@functools.cache
def state_names() -> pa.Array:
    """Every state's name as Arrow, at the position of its code (codes run 0, 1, 2, …): an
    ``index_in`` of this array is the state code, a ``take`` from it the name.

    Built once and on first use: an array built at import, before the ``orcatui`` command tells
    pyarrow there is no pandas, would import pandas.
    """
    assert [int(s) for s in State] == list(range(len(State)))
    return pa.array([s.name for s in State], pa.string())
