"""The order in which interleaved benchmark cases run, round after round."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def round_order(items: Sequence[T], round_index: int) -> list[T]:
    """``items`` forwards in even rounds, backwards in odd ones.

    On the shared virtual machines these figures come from, a process can run a fifth faster or
    slower depending on the process just before it (whether the memory it is given is still
    backed by the host), and with a fixed order each case would always follow the same other
    one: with two cases, identical code measured 7 % apart. Reversing every other round makes
    each case follow each neighbour equally often.
    """
    return list(items) if round_index % 2 == 0 else list(reversed(items))
