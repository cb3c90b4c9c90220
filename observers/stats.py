"""Counters every writer keeps, exposed as ``observer.stats``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class WriterStats:
    """What a writer did: events written or dropped, write retries, files written.

    ``events_dropped`` only grows after every retry of a write failed. ``hook_errors``
    counts exceptions swallowed inside hooks (a hook never raises into the pipeline).
    """

    events_written: int = 0
    events_dropped: int = 0
    retries: int = 0
    files_written: int = 0
    files_compacted: int = 0
    write_errors: int = 0
    hook_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: int) -> None:
        """Add to several counters at once (thread-safe)."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def as_dict(self) -> dict[str, int]:
        """A plain ``dict`` snapshot of the counters."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}


def merge_stats(parts: list[dict[str, int]]) -> dict[str, int]:
    """Sum several :meth:`WriterStats.as_dict` snapshots."""
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return total
