"""The one severity order, used everywhere something is ranked or coloured by how bad it is.

LOST > FAILED > slow > RUNNING > CACHED > SUCCESS: the tree, the runs × nodes grid, the problems
view, colours and exit codes all follow it. ``slow`` is a flag on a RUNNING packet, not a state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Worst first.
SEVERITY_ORDER = ("LOST", "FAILED", "slow", "RUNNING", "CACHED", "SUCCESS")
_RANK = {name: i for i, name in enumerate(SEVERITY_ORDER)}


def rank(name: str) -> int:
    """0 for the worst (LOST); unknown names rank after SUCCESS."""
    return _RANK.get(name, len(SEVERITY_ORDER))


def worst(names: Iterable[str]) -> str | None:
    """The worst of some states/flags, or None when there are none."""
    best: str | None = None
    for name in names:
        if best is None or rank(name) < rank(best):
            best = name
    return best


def worst_present(counts: Mapping[str, int]) -> str | None:
    """The worst state/flag with a non-zero count."""
    return worst(name for name, n in counts.items() if n)
