"""Parsing a moment given on the command line (``--at``): ISO-8601, or relative to now.

``2026-11-28T15:13:37Z``, ``2026-11-28T15:13:37.610238+01:00``, ``2026-11-28 15:13`` (a moment
without an offset is UTC, as the store reads timestamps without one), ``2026-11-28`` (midnight
UTC); relative to now: ``-15m``, ``-2h30m``, ``-90s``, ``-1d12h``, ``-1.5h``; and ``now``.
Every error is one line (``ValueError``), ready for ``orcatui: <message>``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from orcatui.text import inert

#: Moments before this are refused, as the store skips timestamps before it.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0}
_PART = r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)"
_RELATIVE = re.compile(rf"^-\s*(?:{_PART}\s*)+$")
_PARTS = re.compile(_PART)
_SHOWN = 60  # characters of a bad value quoted in an error


def _quote(text: str) -> str:
    clean = inert(text)
    return repr(clean if len(clean) <= _SHOWN else clean[: _SHOWN - 1] + "…")


def parse_moment(text: str, now: float) -> float:
    """``text`` as epoch seconds, ``now`` being the reader's clock; ``ValueError`` if bad.

    A moment in the future (beyond ``now``) or before 2000-01-01 is refused: neither can show
    anything the store said.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("--at: empty moment (use ISO-8601 like 2026-11-28T14:03:00Z, or -15m)")
    if raw.lower() == "now":
        return now
    if raw.startswith("-"):
        if not _RELATIVE.match(raw):
            raise ValueError(
                f"--at: not a relative moment: {_quote(raw)} (use e.g. -15m, -2h30m, -90s, -1d)"
            )
        seconds = sum(float(n) * _UNIT_S[u] for n, u in _PARTS.findall(raw))
        at = now - seconds
    else:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"--at: not an ISO-8601 moment: {_quote(raw)} "
                "(use e.g. 2026-11-28T14:03:00Z, or -15m)"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        at = dt.timestamp()
    if at < EARLIEST:
        raise ValueError(f"--at: {_quote(raw)} is before 2000-01-01")
    if at > now + 1.0:
        raise ValueError(f"--at: {_quote(raw)} is in the future")
    return at


def format_moment(epoch: float) -> str:
    """A moment as ISO-8601 UTC to the microsecond (``2026-11-28T15:13:37.610238Z``)."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.isoformat(timespec="microseconds").replace("+00:00", "Z")
