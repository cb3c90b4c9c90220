"""Exit codes of every command that reports on data (one definition, used by all commands).

Precedence when several apply: LOST (3) > UNREADABLE (4) > FAILED (1) > OK (0). USAGE (2) is
for bad options and for a root that cannot be read at all; TIMEOUT (124) is for ``wait``
running out of time.
"""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
LOST = 3
UNREADABLE = 4
TIMEOUT = 124
INTERRUPTED = 130


def worst(*, lost: bool, unreadable: bool, failed: bool) -> int:
    """The exit code for what a report found, by the precedence above."""
    if lost:
        return LOST
    if unreadable:
        return UNREADABLE
    return FAILED if failed else OK
