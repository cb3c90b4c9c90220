"""How a benchmark's repeated whole-process times spread, and how many meet a target."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def spread(walls: Sequence[float], target: float | None) -> str:
    """``walls``' quartiles and how many of them are within ``target`` seconds (if given).

    A median alone hides what a user sees on a shared virtual machine: there, identical runs of
    the same process differ by a fifth or more (mostly in system time, as the host backs fresh
    memory more or less quickly), so a figure near its target is met in some runs only.
    """
    if target is None:
        if len(walls) < 2:
            return f"{len(walls)} run"
        q1, _, q3 = statistics.quantiles(walls, n=4, method="inclusive")
        return f"middle half {q1:.2f}–{q3:.2f} s of {len(walls)} runs"
    if len(walls) < 2:
        return f"within {target:g} s: {sum(w <= target for w in walls)} of {len(walls)} runs"
    q1, _, q3 = statistics.quantiles(walls, n=4, method="inclusive")
    met = sum(w <= target for w in walls)
    return f"middle half {q1:.2f}–{q3:.2f} s; within {target:g} s in {met} of {len(walls)} runs"
