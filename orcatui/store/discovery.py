"""Find status tables, log tables and run records under a root (DESIGN §2)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from orcatui.store import schema as s


class TableKind(Enum):
    """Whether a table holds status events or log rows."""

    STATUS = "status"
    LOG = "log"


class TableFormat(Enum):
    """How a table is stored on disk."""

    DELTA = "delta"
    PARQUET = "parquet"


@dataclass(frozen=True)
class TableRef:
    """One status or log table: where it is and which pipeline node it belongs to."""

    kind: TableKind
    pipeline: tuple[str, ...]
    identity: tuple[str, ...]
    path: Path

    @property
    def format(self) -> TableFormat:
        """Delta if the table has a ``_delta_log`` directory, else a plain Parquet directory."""
        return TableFormat.DELTA if (self.path / "_delta_log").is_dir() else TableFormat.PARQUET


_LEAF = {s.STATUS_DIR: (TableKind.STATUS, s.STATUS_TABLE), s.LOG_DIR: (TableKind.LOG, s.LOG_TABLE)}
# Directories that never hold status data: skipping them keeps scans of big stores cheap.
_SKIP = {"_result", "_delta_log", "_runs", "__pycache__", ".git"}


def subdirs(path: str) -> list[os.DirEntry[str]]:
    """The subdirectories of ``path`` (symlinks not followed); none if it cannot be listed."""
    try:
        with os.scandir(path) as it:
            return [e for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _tables_below(
    section: str, kind: TableKind, leaf: str, pipeline: tuple[str, ...]
) -> list[TableRef]:
    found: list[TableRef] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(section, ())]
    while stack:
        path, identity = stack.pop()
        for entry in subdirs(path):
            if entry.name == leaf:
                found.append(TableRef(kind, pipeline, identity, Path(entry.path)))
            elif entry.name != "_delta_log":
                stack.append((entry.path, (*identity, entry.name)))
    return found


def discover_tables(root: Path) -> list[TableRef]:
    """Every status and log table below ``root``, found by the ``_status``/``_log`` components.

    A pipeline's name is the path from the root to the directory holding ``_status``/``_log``
    (several levels for a multi-part name). orcapod's result and record tables are not entered.
    """
    found: list[TableRef] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while stack:
        path, parts = stack.pop()
        children = subdirs(path)
        names = {e.name for e in children}
        if "_delta_log" in names and parts:
            continue  # some other table (orcapod's record tables): not ours
        for entry in children:
            if entry.name in _LEAF:
                kind, leaf = _LEAF[entry.name]
                found.extend(_tables_below(entry.path, kind, leaf, parts))
            elif entry.name not in _SKIP and not entry.name.startswith("."):
                stack.append((entry.path, (*parts, entry.name)))
    found.sort(key=lambda t: (t.kind.value, t.pipeline, t.identity))
    return found
