"""ISO-8601 UTC timestamps formatted exactly like ``datetime.now(timezone.utc).isoformat()``."""

from __future__ import annotations

import time

_prefix_cache: dict[int, str] = {}


def iso_from_ns(ns: int) -> str:
    """``2026-11-28T15:13:37.610238+00:00`` for ``ns`` nanoseconds since the epoch.

    Like ``datetime.isoformat()``, the fraction is omitted when the microseconds are 0.
    """
    sec, rem = divmod(ns, 1_000_000_000)
    prefix = _prefix_cache.get(sec)
    if prefix is None:
        if len(_prefix_cache) > 4096:
            _prefix_cache.clear()
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _prefix_cache[sec] = prefix
    us = rem // 1000
    if us:
        return f"{prefix}.{us:06d}+00:00"
    return prefix + "+00:00"


def iso_now() -> str:
    """The current time as :func:`iso_from_ns` formats it."""
    return iso_from_ns(time.time_ns())
