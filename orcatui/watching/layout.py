"""Where a changed path sits in a root's layout (docs/design.md §2), and which table it belongs to.

Pure path rules for the inotify filter, matching the one layout walk
(:mod:`orcatui.store.layout_walk`): status data lives in tables below a ``_status``/``_log`` section
(``execution_status``/``execution_logs`` directories, or any directory holding ``_delta_log`` or
``*.parquet`` files); run records in ``_runs`` (``<run>.json`` or ``<run>/<writer>.json``);
everything else (orcapod's ``_result`` trees and record tables, temporary files) is noise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from orcatui.store import layout_walk as lw

SECTIONS = frozenset(lw.SECTIONS)
TABLE_DIRS = frozenset(lw.TABLE_DIRS)
RUNS = lw.RUNS
DELTA_LOG = lw.DELTA_LOG
NEVER = lw.NEVER
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
        return _locate_unnamed(parts, section)
    return _in_table(parts[: table + 1], parts[table + 1 :])


def _locate_unnamed(parts: tuple[str, ...], section: int) -> Located | None:
    """A path in a section with no ``execution_*`` folder: a table is known by its content."""
    below = parts[section + 1 :]
    if DELTA_LOG in below:
        k = section + 1 + below.index(DELTA_LOG)
        if k == section + 1:
            return None  # the section itself is not a table
        return _in_table(parts[:k], parts[k:])
    if any(p.startswith(".") for p in below):
        return None
    if len(below) >= 2 and parts[-1].endswith(".parquet") and not parts[-1].startswith("_"):
        return Located(Place.TABLE_FILE, parts[:-1])
    if parts[-1].endswith(_FILE_SUFFIXES):
        return None
    return Located(Place.NODE_DIR)


def _in_table(table_parts: tuple[str, ...], rest: tuple[str, ...]) -> Located | None:
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
        if any(p.startswith(".") for p in rest) or len(rest) > 2:
            return None  # writers' temporary records; nothing deeper is a record
        if rest[-1].endswith(".json") or (len(rest) == 1 and "." not in rest[0]):
            return Located(Place.RUNS)  # a record, or a run's directory of per-writer records
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

    The same walk as :func:`orcatui.store.discovery.discover_tables`, started at ``parts``.
    """
    return {t.path for t in lw.walk_layout(root, parts).tables}
