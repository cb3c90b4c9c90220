"""Where a changed path sits in a root's layout (DESIGN §2), and which table it belongs to.

Pure path rules, shared by the inotify filter and the polling walk: status data lives in table
directories (``execution_status``/``execution_logs``) below a ``_status``/``_log`` section; run
records in ``_runs``; everything else (orcapod's ``_result`` trees and record tables, temporary
files) is noise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from orcatui.store import schema as s
from orcatui.store.discovery import subdirs

SECTIONS = frozenset({s.STATUS_DIR, s.LOG_DIR})
TABLE_DIRS = frozenset({s.STATUS_TABLE, s.LOG_TABLE})
RUNS = s.RUNS_DIR
DELTA_LOG = "_delta_log"
NEVER = frozenset({"_result", "__pycache__", ".git"})
# Names that are files, never the directories we care about outside the tables.
_FILE_SUFFIXES = (".parquet", ".json", ".crc", ".tmp", ".py", ".txt", ".log")


class Place(Enum):
    """What kind of thing a path is, for the feed."""

    TABLE_FILE = "table file"  # content of a table (data file, Delta commit): the table changed
    TABLE_DIR = "table dir"  # a table directory itself, or its _delta_log directory
    NODE_DIR = "node dir"  # a section (_status/_log) or a directory between it and the tables
    RUNS = "runs"  # a _runs directory or a run record in it
    TREE = "tree"  # a directory above the sections (pipeline name parts)


@dataclass(frozen=True)
class Located:
    """A relevant path: its place and, for table content, the table directory (relative parts)."""

    place: Place
    table: tuple[str, ...] | None = None


def locate(parts: tuple[str, ...]) -> Located | None:
    """Classify a path given as its components relative to the root; None if it is irrelevant."""
    if not parts or any(p in NEVER for p in parts):
        return None
    section = next((i for i, p in enumerate(parts) if p in SECTIONS), None)
    if section is None:
        return _locate_outside(parts)
    if any(p.startswith(".") or p == DELTA_LOG for p in parts[:section]):
        return None
    table = next((k for k in range(section + 1, len(parts)) if parts[k] in TABLE_DIRS), None)
    if table is None:
        if any(p == DELTA_LOG or p.startswith(".") for p in parts[section + 1 :]):
            return None
        return Located(Place.NODE_DIR)
    table_parts = parts[: table + 1]
    rest = parts[table + 1 :]
    if not rest:
        return Located(Place.TABLE_DIR, table_parts)
    if rest[0] == DELTA_LOG:
        if len(rest) == 1:
            return Located(Place.TABLE_DIR, table_parts)
        name = rest[-1]
        # commits (000…N.json), checkpoints, _last_checkpoint; not writers' temp commit files
        committed = name[:1].isdigit() or name == "_last_checkpoint"
        if len(rest) == 2 and committed and not name.endswith(".tmp"):
            return Located(Place.TABLE_FILE, table_parts)
        return None
    name = rest[-1]
    if rest[0].startswith((".", "_")) or name.startswith((".", "_")) or name.endswith(".tmp"):
        return None  # a writer's temporary file: its final rename is what counts
    return Located(Place.TABLE_FILE, table_parts)


def _locate_outside(parts: tuple[str, ...]) -> Located | None:
    if RUNS in parts:
        j = parts.index(RUNS)
        if any(p.startswith(".") or p == DELTA_LOG for p in parts[:j]):
            return None
        rest = parts[j + 1 :]
        if not rest:
            return Located(Place.RUNS)
        if len(rest) == 1 and rest[0].endswith(".json") and not rest[0].startswith("."):
            return Located(Place.RUNS)
        return None
    if DELTA_LOG in parts or any(p.startswith(".") for p in parts):
        return None  # orcapod's record tables (Delta tables outside the sections), hidden dirs
    if parts[-1].endswith(_FILE_SUFFIXES):
        return None
    return Located(Place.TREE)


def relative_parts(path: str, prefixes: tuple[str, ...]) -> tuple[str, ...] | None:
    """Components of ``path`` below the first matching root prefix (``()`` for the root itself)."""
    for prefix in prefixes:
        if path == prefix:
            return ()
        if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] == os.sep:
            return tuple(p for p in path[len(prefix) + 1 :].split(os.sep) if p)
    return None


def root_prefixes(root: Path) -> tuple[str, ...]:
    """The spellings of ``root`` an event path may start with (as given, absolute, resolved)."""
    out: list[str] = []
    for p in (os.path.abspath(root), _resolved(root)):
        p = p.rstrip(os.sep) or os.sep
        if p not in out:
            out.append(p)
    return tuple(out)


def _resolved(root: Path) -> str:
    try:
        return str(Path(root).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(root)


def root_identity(root: Path | str) -> tuple[int, int] | None:
    """(device, inode) of the root directory, or None if it is gone or not a directory.

    A root deleted and created again has a new identity: watchers must start over.
    """
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(root) else None


def tables_below(root: Path, parts: tuple[str, ...]) -> set[Path]:
    """Table directories at or below ``root/parts`` (a directory that just appeared).

    Only tables below a section count, as in :func:`orcatui.store.discovery.discover_tables`.
    """
    loc = locate(parts)
    if loc is not None and loc.table is not None:
        return {root.joinpath(*loc.table)}
    found: set[Path] = set()
    stack: list[tuple[str, bool]] = [
        (str(root.joinpath(*parts)), any(p in SECTIONS for p in parts))
    ]
    while stack:
        path, in_section = stack.pop()
        for e in subdirs(path):
            name = e.name
            if name in NEVER or name.startswith(".") or name in (DELTA_LOG, RUNS):
                continue
            if in_section and name in TABLE_DIRS:
                found.add(Path(e.path))
            else:
                stack.append((e.path, in_section or name in SECTIONS))
    return found
