"""Polling a root cheaply: stat directory mtimes of the few directories that matter.

After one walk (which finds the same tables as the store's discovery), each check stats only
directories: table dirs and their ``_delta_log`` (a new file or commit changes them), section and
node dirs (a new node), the pipeline dirs above (a new pipeline) and ``_runs``. A changed node or
pipeline dir, or a timer, triggers a new walk. Files are never listed or opened here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from orcatui.store.layout_walk import DirKind, walk_layout
from orcatui.watching.changes import Changes
from orcatui.watching.layout import root_identity

# A directory whose mtime is this close to "now" may change again within the same timestamp tick
# (coarse-grained or 1-second mtimes, NFS) without its mtime moving: report it again next check.
RACY_S = 2.0
REWALK_S = 30.0


Kind = DirKind  # why a directory is watched (TREE, NODE, TABLE, RUNS)

Watched = dict[str, tuple[Kind, Path | None]]


def walk(root: Path) -> Watched:
    """The directories to watch under ``root`` (an unreadable root gives just the root).

    The layout walk shared with the store's discovery, so both always see the same tables.
    """
    watched: Watched = {str(root): (Kind.TREE, None)}
    watched.update(walk_layout(root, dirs=True).dirs)
    return watched


class DirPoller:
    """Finds what changed under a root since the last :meth:`check`, by directory mtimes.

    Blocking (stat calls): run it in a thread. A vanished root is not an error: the check that
    notices it returns ``rescan=True``, and so does the one that sees it back (with every table
    then present, as any of them may hold content written while it was not watched).
    """

    def __init__(
        self,
        root: Path,
        *,
        rewalk_every: float = REWALK_S,
        racy: float = RACY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.rewalk_every = rewalk_every
        self._racy_ns = int(racy * 1e9)
        self._clock = clock
        self._watched: Watched = {}
        self._sigs: dict[str, tuple[int, int]] = {}
        self._racy: set[str] = set()
        self._root_id: tuple[int, int] | None = None
        self._last_walk = 0.0
        self.stats_per_check = 0  # directories stat'ed by the last check (for benchmarks)

    def start(self) -> None:
        """Take the first picture (nothing is reported for what exists now)."""
        self._root_id = root_identity(self.root)
        if self._root_id is not None:
            self._rewalk()

    def _record(self, path: str, st: os.stat_result, now_ns: int) -> None:
        self._sigs[path] = (st.st_mtime_ns, st.st_ino)
        if abs(now_ns - st.st_mtime_ns) < self._racy_ns:
            self._racy.add(path)
        else:
            self._racy.discard(path)

    def _rewalk(self) -> tuple[set[Path], bool]:
        """Walk again; returns (tables not watched before, whether a new _runs dir appeared)."""
        now_ns = time.time_ns()
        fresh = walk(self.root)
        new_tables: set[Path] = set()
        new_runs = False
        for path, (kind, table) in fresh.items():
            if path in self._watched:
                continue
            try:
                self._record(path, os.stat(path), now_ns)
            except OSError:
                continue
            if kind is Kind.TABLE and table is not None:
                new_tables.add(table)
            elif kind is Kind.RUNS:
                new_runs = True
        for path in self._watched.keys() - fresh.keys():
            self._sigs.pop(path, None)
            self._racy.discard(path)
        self._watched = fresh
        self._last_walk = self._clock()
        return new_tables, new_runs

    def check(self) -> Changes:
        """What changed since the previous check (possibly nothing)."""
        root_id = root_identity(self.root)
        if root_id is None:
            if self._root_id is None:
                return Changes()
            self._root_id = None
            self._watched, self._sigs, self._racy = {}, {}, set()
            return Changes(rescan=True)
        if root_id != self._root_id:  # came back (or was replaced): start over, read it all
            self._root_id = root_id
            self._watched, self._sigs, self._racy = {}, {}, set()
            tables, _runs = self._rewalk()
            return Changes(tables, rescan=True)
        out = Changes()
        now_ns = time.time_ns()
        must_walk = self._clock() - self._last_walk >= self.rewalk_every
        for path, (kind, table) in self._watched.items():
            try:
                st = os.stat(path)
            except OSError:
                must_walk = must_walk or kind is not Kind.TABLE
                continue
            if (st.st_mtime_ns, st.st_ino) == self._sigs.get(path) and path not in self._racy:
                continue
            self._record(path, st, now_ns)
            if kind is Kind.TABLE and table is not None:
                out.tables.add(table)
            elif kind is Kind.RUNS:
                out.rescan = True
            else:
                must_walk = True
        self.stats_per_check = len(self._watched) + 1
        if must_walk:
            new_tables, new_runs = self._rewalk()
            if new_tables or new_runs:
                out.tables |= new_tables
                out.rescan = True
        return out
