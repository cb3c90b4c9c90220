"""Incremental reader of a plain Parquet table directory (our observers' default sink)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from orcatui.store.discovery import TableKind
from orcatui.store.files import FileBatch, read_files

# A file that still fails after this long is reported as broken (before that it may be mid-write
# by a foreign writer that does not rename atomically).
BROKEN_AFTER_S = 2.0


class ParquetTableReader:
    """Reads each ``*.parquet`` file of a directory once; new files are picked up on each call.

    Names starting with ``.`` or ``_`` are writers' temporary files and are ignored. A file that
    cannot be parsed is retried on the next call and reported once it stays broken.
    """

    def __init__(self, path: Path, kind: TableKind) -> None:
        self.path = path
        self.kind = kind
        self._seen: set[str] = set()
        self._first_failure: dict[str, float] = {}
        self.broken: dict[str, str] = {}

    def _listing(self) -> list[str]:
        try:
            with os.scandir(self.path) as it:
                return sorted(
                    e.name
                    for e in it
                    if e.name.endswith(".parquet")
                    and not e.name.startswith((".", "_"))
                    and e.is_file()
                )
        except FileNotFoundError:
            return []

    @property
    def fresh(self) -> bool:
        """True until a file has been read: the next read is a cold load of the directory."""
        return not self._seen and not self._first_failure

    def new_files(self) -> list[str]:
        """The paths of the files to read now (not read before), forgetting vanished ones.

        Hand them, read, to :meth:`take`. :meth:`read_new` is both steps in one.
        """
        names = self._listing()
        present = set(names)
        self._seen &= present  # a vanished file (compacted away) is simply forgotten
        for n in [n for n in self._first_failure if n not in present]:
            del self._first_failure[n]  # a broken file removed is no longer a problem
            self.broken.pop(n, None)
        base = str(self.path) + os.sep
        return [base + n for n in names if n not in self._seen]

    def read_new(self) -> FileBatch:
        """Rows of the files not read before (normalised), plus problems."""
        return self.read_listed(self.new_files())

    def read_listed(self, paths: list[str]) -> FileBatch:
        """:meth:`read_new` of a listing already made by :meth:`new_files`."""
        if not paths:
            return FileBatch(None)
        return self.take(paths, read_files(paths, self.kind, str(self.path)))

    def take(self, paths: list[str], batch: FileBatch) -> FileBatch:
        """Record ``paths`` (from :meth:`new_files`) as read into ``batch``: a file read is never
        read again; a failing one is retried, and reported once it stays broken."""
        if not batch.failed and not self._first_failure:
            self._seen.update(os.path.basename(p) for p in paths)  # the usual case
            return batch
        now = time.monotonic()
        for full in paths:
            n = os.path.basename(full)
            if full in batch.failed:
                first = self._first_failure.setdefault(n, now)
                if now - first >= BROKEN_AFTER_S or not _recent(full):
                    self.broken[n] = batch.failed[full]
            else:
                self._seen.add(n)
                self._first_failure.pop(n, None)
                self.broken.pop(n, None)
        batch.failed = {k: v for k, v in batch.failed.items() if os.path.basename(k) in self.broken}
        return batch


def _recent(path: str) -> bool:
    try:
        return time.time() - os.stat(path).st_mtime < BROKEN_AFTER_S
    except OSError:
        return True
