"""Find status tables, log tables and run records under a root (docs/design.md §2)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from orcatui.store.layout_walk import Layout, walk_layout


class TableKind(Enum):
    """Whether a table holds status events or log rows."""

    STATUS = "status"
    LOG = "log"


class TableFormat(Enum):
    """How a table is stored on disk."""

    DELTA = "delta"
    PARQUET = "parquet"


@dataclass(frozen=True)
class ObjectPath:
    """Where a table on object storage is: its URL (``s3://bucket/…/execution_status``).

    Deliberately neither ``str`` nor ``os.PathLike``: ``open``, ``os.stat``, ``Path(…)`` and
    ``os.fspath`` all refuse it, so a remote table is never opened as a local path by mistake.
    Hashable and comparable (a key of ``Store.readers`` and of ``poll(only=…)``); ``str()``
    gives the URL for messages.
    """

    url: str

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class TableRef:
    """One status or log table: where it is and which pipeline node it belongs to.

    ``path`` is a local directory, or an :class:`ObjectPath` for a table on object storage
    (which then carries its ``stored_format``, known from the listing).
    """

    kind: TableKind
    pipeline: tuple[str, ...]
    identity: tuple[str, ...]
    path: Path | ObjectPath
    stored_format: TableFormat | None = None

    @property
    def format(self) -> TableFormat:
        """Delta if the table has a ``_delta_log`` directory, else a plain Parquet directory."""
        if self.stored_format is not None:
            return self.stored_format
        assert isinstance(self.path, Path), "a remote table's format comes from its listing"
        return TableFormat.DELTA if (self.path / "_delta_log").is_dir() else TableFormat.PARQUET


def subdirs(path: str) -> list[os.DirEntry[str]]:
    """The subdirectories of ``path`` (symlinks not followed); none if it cannot be listed.

    Kept for callers that only want a listing; walks of a root's layout use
    :func:`orcatui.store.layout_walk.walk_layout`, which reports what it cannot list.
    """
    try:
        with os.scandir(path) as it:
            return [e for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


@dataclass
class Discovery:
    """Tables found under a root, and the directories that could not be read (path -> why)."""

    tables: list[TableRef]
    problems: dict[str, str] = field(default_factory=dict)


def _refs(layout: Layout) -> list[TableRef]:
    found = [
        TableRef(
            TableKind.STATUS if t.kind == "status" else TableKind.LOG,
            t.pipeline,
            t.identity,
            t.path,
        )
        for t in layout.tables
    ]
    found.sort(key=lambda t: (t.kind.value, t.pipeline, t.identity))
    return found


def discover(root: Path) -> Discovery:
    """Every status and log table below ``root``, and what could not be read on the way.

    A pipeline's name is the path from the root to the directory holding ``_status``/``_log``
    (several levels for a multi-part name; none when the root is one pipeline's folder).
    orcapod's result and record tables are not entered. See :mod:`orcatui.store.layout_walk`.
    """
    layout = walk_layout(root)
    return Discovery(_refs(layout), layout.problems)


def discover_tables(root: Path) -> list[TableRef]:
    """Every status and log table below ``root`` (see :func:`discover`)."""
    return discover(root).tables
