"""The unit the change feed yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Changes:
    """What changed under a root since the previous yield.

    ``tables`` holds table directories (``…/execution_status``, ``…/execution_logs``) whose content
    changed; ``rescan`` asks the caller to rediscover tables (new directories, ``_runs`` changes,
    the root reappeared, events possibly lost).
    """

    tables: set[Path] = field(default_factory=set)
    rescan: bool = False

    @property
    def empty(self) -> bool:
        """True when there is nothing to do."""
        return not self.tables and not self.rescan

    def merge(self, other: Changes) -> None:
        """Fold ``other`` into this one."""
        self.tables |= other.tables
        self.rescan = self.rescan or other.rescan
