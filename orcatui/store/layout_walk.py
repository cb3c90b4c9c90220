"""The one walk over a root's layout (design.md §2): for discovery, the change feed and the poller.

A root holds pipelines; a pipeline's name is the path from the root to the directory that holds
its ``_status`` / ``_log`` sections (no directories at all when the root *is* one pipeline's
folder). Below a section, a *table* is a directory named ``execution_status`` /
``execution_logs`` (our observers and orcapod), or any directory holding a ``_delta_log`` or
``*.parquet`` files (orcapod's reader-test layout). ``_runs`` holds the run records of the
pipeline: ``_runs/<run_id>.json`` or, one per writer process, ``_runs/<run_id>/<writer>.json``.

orcapod's result and record tables (``_result``, Delta tables outside the sections), hidden
directories and writers' temporary names are never entered. Symbolic links are not followed
outside the sections (a link to ``/`` must not make a scan walk the whole machine); inside a section
they are followed (a node's table may live on another disk), with a guard against loops. A
directory that cannot be listed, or a link there that leads nowhere, is reported as a problem
rather than skipped silently: its node would otherwise show zeros.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from orcatui.store import schema as s

SECTIONS = {s.STATUS_DIR: "status", s.LOG_DIR: "log"}
TABLE_DIRS = {s.STATUS_TABLE: "status", s.LOG_TABLE: "log"}
DELTA_LOG = "_delta_log"
RUNS = s.RUNS_DIR
# Directories that never hold status data: skipping them keeps scans of big stores cheap.
NEVER = frozenset({"_result", "__pycache__", ".git", "lost+found"})


class DirKind(Enum):
    """Why a directory matters to a watcher."""

    TREE = "tree"  # root or a pipeline name dir: a change may mean a new pipeline
    NODE = "node"  # a section or a dir below it, above the tables: a change may mean a new node
    TABLE = "table"  # a table dir or its _delta_log: a change means new content
    RUNS = "runs"  # a _runs dir or a run's dir of per-writer records


@dataclass(frozen=True)
class FoundTable:
    """A table found by the walk: its section kind, pipeline parts, node identity and path."""

    kind: str  # "status" or "log"
    pipeline: tuple[str, ...]
    identity: tuple[str, ...]
    path: Path


@dataclass
class Layout:
    """What one walk found; ``dirs`` and ``runs`` are filled only when asked for."""

    tables: list[FoundTable] = field(default_factory=list)
    dirs: dict[str, tuple[DirKind, Path | None]] = field(default_factory=dict)
    runs: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (pipeline, dir)
    problems: dict[str, str] = field(default_factory=dict)  # path -> why it could not be read


def describe_os_error(exc: OSError) -> str:
    """An OS error in words (no ``[Errno n]``), for one-line warnings."""
    words = {
        errno.EACCES: "permission denied (this user may not read it)",
        errno.EPERM: "operation not permitted",
        errno.ENOENT: "it does not exist (a dangling link or removed meanwhile)",
        errno.ENOTDIR: "a path component is not a directory",
        errno.ELOOP: "too many levels of symbolic links (a link loop)",
        errno.ENAMETOOLONG: "the path is too long for the system",
        errno.EIO: "input/output error (failing disk or network mount)",
        errno.ESTALE: "stale network file handle (the mount needs attention)",
        errno.ETIMEDOUT: "timed out (network mount not answering)",
        errno.ENOTCONN: "transport not connected (a dead FUSE or network mount)",
    }
    if exc.errno in words:
        return words[exc.errno]
    return (exc.strerror or type(exc).__name__).lower()


def shown(path: str | os.PathLike[str]) -> str:
    """A path as printable text: bytes that are not UTF-8 appear as ``\\xff`` escapes."""
    text = os.fspath(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class _Walker:
    def __init__(self, root: Path, want_dirs: bool, want_runs: bool) -> None:
        self.root = root
        self.want_dirs = want_dirs
        self.want_runs = want_runs
        self.out = Layout()
        self._seen: set[tuple[int, int]] = set()

    def _list(self, path: str, report: bool) -> list[os.DirEntry[str]] | None:
        try:
            with os.scandir(path) as it:
                return list(it)
        except OSError as exc:
            if report:
                self.out.problems[path] = f"cannot list directory: {describe_os_error(exc)}"
            return None

    def _dir(self, path: str, kind: DirKind, table: Path | None = None) -> None:
        if self.want_dirs:
            self.out.dirs[path] = (kind, table)

    # -- above the sections: pipeline name directories ---------------------------------------
    def tree(self, path: str, parts: tuple[str, ...]) -> None:
        entries = self._list(path, report=True)
        if entries is None:
            return
        if parts and any(e.name == DELTA_LOG for e in entries):
            return  # some other Delta table (orcapod's record tables): not ours
        self._dir(path, DirKind.TREE)
        for e in entries:
            name = e.name
            if name in NEVER or name.startswith(".") or name == DELTA_LOG:
                continue
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir:
                if name in SECTIONS and e.is_symlink():
                    self.section_entry(e, parts, SECTIONS[name])
                continue
            if name in SECTIONS:
                self.section_entry(e, parts, SECTIONS[name])
            elif name == RUNS:
                self.runs_dir(e.path, parts)
            else:
                self.tree(e.path, (*parts, name))

    def runs_dir(self, path: str, pipeline: tuple[str, ...]) -> None:
        if not (self.want_dirs or self.want_runs):
            return
        self._dir(path, DirKind.RUNS)
        if self.want_runs:
            self.out.runs.append((pipeline, path))
        # per-writer records sit one level down, in a directory per run
        for e in self._list(path, report=self.want_runs) or []:
            if e.name.startswith(".") or not _is_real_dir(e):
                continue
            self._dir(e.path, DirKind.RUNS)
            if self.want_runs:
                self.out.runs.append((pipeline, e.path))

    # -- inside a section: node directories and tables ---------------------------------------
    def section_entry(self, e: os.DirEntry[str], pipeline: tuple[str, ...], kind: str) -> None:
        if not self._enterable(e):
            return
        self._dir(e.path, DirKind.NODE)
        self.section(e.path, pipeline, kind, ())

    def _enterable(self, e: os.DirEntry[str]) -> bool:
        """Whether a directory entry in a section is a directory we may enter (links followed)."""
        try:
            st = os.stat(e.path)  # follows links: a dangling one or a loop fails here
        except OSError as exc:
            self.out.problems[e.path] = f"cannot read: {describe_os_error(exc)}"
            return False
        if not _stat_is_dir(st):
            if e.name in TABLE_DIRS or e.name in SECTIONS:
                self.out.problems[e.path] = "cannot read: a file where a directory is expected"
            return False
        key = (st.st_dev, st.st_ino)
        if key in self._seen:
            return False  # reached twice (a link back up): walk it once
        self._seen.add(key)
        return True

    def section(
        self, path: str, pipeline: tuple[str, ...], kind: str, ident: tuple[str, ...]
    ) -> None:
        entries = self._list(path, report=True)
        if entries is not None:
            self._children(entries, pipeline, kind, ident)

    def node(self, path: str, pipeline: tuple[str, ...], kind: str, ident: tuple[str, ...]) -> None:
        entries = self._list(path, report=True)
        if entries is None:
            return
        has_log = any(e.name == DELTA_LOG for e in entries)
        if has_log or any(_is_data_file(e.name) and _is_file(e) for e in entries):
            self.table(path, pipeline, kind, ident, has_log=has_log)
            return
        self._dir(path, DirKind.NODE)
        self._children(entries, pipeline, kind, ident)

    def _children(
        self,
        entries: list[os.DirEntry[str]],
        pipeline: tuple[str, ...],
        kind: str,
        ident: tuple[str, ...],
    ) -> None:
        for e in entries:
            name = e.name
            if name.startswith(".") or name in NEVER or name == DELTA_LOG:
                continue
            if e.is_symlink() or name in TABLE_DIRS:
                if not self._enterable(e):
                    continue
            elif not _is_real_dir(e):
                continue
            if name in TABLE_DIRS:
                # a named table takes its section's kind (the folder says what it holds)
                self.table(e.path, pipeline, kind, ident)
            else:
                self.node(e.path, pipeline, kind, (*ident, name))

    def table(
        self,
        path: str,
        pipeline: tuple[str, ...],
        kind: str,
        ident: tuple[str, ...],
        has_log: bool | None = None,
    ) -> None:
        self.out.tables.append(FoundTable(kind, pipeline, ident, Path(path)))
        if self.want_dirs:
            self._dir(path, DirKind.TABLE, Path(path))
            log = os.path.join(path, DELTA_LOG)
            if has_log or (has_log is None and os.path.isdir(log)):
                self._dir(log, DirKind.TABLE, Path(path))


def _is_real_dir(e: os.DirEntry[str]) -> bool:
    try:
        return e.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(e: os.DirEntry[str]) -> bool:
    try:
        return e.is_file()
    except OSError:
        return False


def _stat_is_dir(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode)


def _is_data_file(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def walk_layout(
    root: Path,
    start: tuple[str, ...] = (),
    *,
    dirs: bool = False,
    runs: bool = False,
) -> Layout:
    """Walk ``root`` (or only ``root/start``) and collect its tables.

    With ``dirs``, also every directory a watcher must stat or watch, with why; with ``runs``,
    the directories holding run records. ``start`` names a subdirectory that just appeared: its
    place (pipeline name, section, node) is worked out from its components.
    """
    w = _Walker(root, dirs, runs)
    path = str(root.joinpath(*start))
    if any(p in NEVER or p.startswith(".") for p in start):
        return w.out
    sec = next((i for i, p in enumerate(start) if p in SECTIONS), None)
    if sec is None:
        if RUNS in start:
            j = start.index(RUNS)
            if len(start) == j + 1 and os.path.isdir(path):
                w.runs_dir(path, start[:j])
            return w.out
        if DELTA_LOG in start:
            return w.out
        w.tree(path, start)
        return w.out
    pipeline, kind, below = start[:sec], SECTIONS[start[sec]], start[sec + 1 :]
    if DELTA_LOG in below:
        below = below[: below.index(DELTA_LOG)]
        path = str(root.joinpath(*start[: sec + 1], *below))
    named = next((k for k, p in enumerate(below) if p in TABLE_DIRS), None)
    if named is not None:
        table = root.joinpath(*start[: sec + 1], *below[: named + 1])
        if table.is_dir():
            w.table(str(table), pipeline, kind, below[:named])
        return w.out
    if not os.path.isdir(path):
        return w.out
    if below:
        w.node(path, pipeline, kind, below)
    else:
        w._dir(path, DirKind.NODE)
        w.section(path, pipeline, kind, ())
    return w.out


@dataclass(frozen=True)
class Place:
    """Where a table belongs: section kind, pipeline parts, node identity, and how many leading
    components of the path it was found from name the table itself (the rest lie inside it)."""

    kind: str  # "status" or "log"
    pipeline: tuple[str, ...]
    identity: tuple[str, ...]
    length: int


def place(components: Sequence[str]) -> Place | None:
    """THE rule placing a table by its path components below the root (design.md §2).

    ``components`` name a directory that holds table data (``*.parquet`` files or a
    ``_delta_log``), or anything inside one. The pipeline is what lies above the first
    ``_status``/``_log`` component; below it, the first ``execution_status``/``execution_logs``
    component ends the table (the identity is what lies between), else the whole rest is the
    identity. None when the components cannot hold a table of ours: no section, nothing below
    the section, a hidden or never-entered (:data:`NEVER`) component, a ``_runs`` or
    ``_delta_log`` above the section. Used by the walk over a root's listing on object storage;
    the local walk reaches the same answer directory by directory.
    """
    parts = tuple(components)
    if any(p in NEVER or p.startswith(".") for p in parts):
        return None
    sec = next((i for i, p in enumerate(parts) if p in SECTIONS), None)
    if sec is None:
        return None
    pipeline = parts[:sec]
    if RUNS in pipeline or DELTA_LOG in pipeline:
        return None
    below = parts[sec + 1 :]
    if DELTA_LOG in below:
        below = below[: below.index(DELTA_LOG)]
    named = next((k for k, p in enumerate(below) if p in TABLE_DIRS), None)
    if named is not None:
        return Place(SECTIONS[parts[sec]], pipeline, below[:named], sec + 2 + named)
    if not below:
        return None
    return Place(SECTIONS[parts[sec]], pipeline, below, sec + 1 + len(below))


def run_record_files(runs_dir: str) -> list[str]:
    """The run records in a ``_runs`` directory: ``<run>.json`` and ``<run>/<writer>.json``.

    Names starting with ``.`` are writers' temporary files (records are replaced atomically).
    """
    out: list[str] = []
    try:
        with os.scandir(runs_dir) as it:
            entries = list(it)
    except OSError:
        return out
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.name.endswith(".json"):
            if _is_file(e):
                out.append(e.path)
        elif _is_real_dir(e):
            try:
                with os.scandir(e.path) as it:
                    out.extend(
                        w.path
                        for w in it
                        if w.name.endswith(".json") and not w.name.startswith(".") and _is_file(w)
                    )
            except OSError:
                continue
    out.sort()
    return out
