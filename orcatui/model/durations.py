"""Human-readable durations and ages, and parsing of ``--stale-after`` values."""

from __future__ import annotations

import math
import re

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_CAP_S = 9999 * 86400.0  # beyond this an age or duration is shown as ">9999d"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|)\s*$")


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"10m"``, ``"2h"``, ``"1d"`` → seconds; ``ValueError`` otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 10m, 2h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_age(seconds: float) -> str:
    """A coarse age: ``42s``, ``4m``, ``2h``, ``3d`` (``?`` if not finite, at most ``>9999d``)."""
    if not math.isfinite(seconds):
        return "?"
    s = max(0.0, seconds)
    if s >= _CAP_S:
        return ">9999d"
    if s < 60:
        return f"{int(s)}s"
    if s < 3600:
        return f"{int(s // 60)}m"
    if s < 86400:
        return f"{int(s // 3600)}h"
    return f"{int(s // 86400)}d"


def format_duration(seconds: float | None) -> str:
    """A precise-enough duration for a table cell: ``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``."""
    if seconds is None:
        return ""
    if not math.isfinite(seconds):
        return "?"
    s = max(0.0, seconds)
    if s >= _CAP_S:
        return ">9999d"
    if s < 10:
        return f"{s:.2f}s"
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
