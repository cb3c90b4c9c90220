"""A root's tables, read incrementally: each :meth:`Store.poll` returns only what is new."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from orcatui.store.delta_table import DeltaTableReader
from orcatui.store.discovery import TableFormat, TableKind, TableRef, discover_tables
from orcatui.store.files import FileBatch, one_line
from orcatui.store.parquet_table import ParquetTableReader
from orcatui.store.schema import RUNS_DIR

Reader = DeltaTableReader | ParquetTableReader
Consumer = Callable[[TableRef, pa.Table], None]
_THREADS = min(4, (os.cpu_count() or 1) + 1)  # one more than cores: reads overlap folds


class RootError(Exception):
    """The root cannot be read at all (missing, not a directory, unreadable)."""


@dataclass
class StoreUpdate:
    """What one poll found: new rows per table, changed run records, problems."""

    status: list[tuple[TableRef, pa.Table]] = field(default_factory=list)
    logs: list[tuple[TableRef, pa.Table]] = field(default_factory=list)
    run_records: dict[tuple[str, ...], list[dict[str, Any]]] = field(default_factory=dict)
    new_tables: list[TableRef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, this poll only
    consumed: int = 0  # rows handed to a ``consume`` callback instead of being collected

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (
            self.status
            or self.logs
            or self.run_records
            or self.new_tables
            or self.problems
            or self.consumed
        )


def check_root(root: Path) -> None:
    """Raise :class:`RootError` with a one-line message if ``root`` cannot be watched."""
    if not root.exists():
        raise RootError(f"{root}: no such directory")
    if not root.is_dir():
        raise RootError(f"{root}: not a directory")
    if not os.access(root, os.R_OK | os.X_OK):
        raise RootError(f"{root}: permission denied")


class Store:
    """Discovers the tables of a root and reads each incrementally."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.readers: dict[Path, tuple[TableRef, Reader]] = {}
        self._records_seen: dict[str, tuple[float, int]] = {}
        self.broken: dict[str, str] = {}  # table path -> last error (kept until it reads again)

    @property
    def tables(self) -> list[TableRef]:
        """The tables discovered so far."""
        return [ref for ref, _ in self.readers.values()]

    def discover(self) -> list[TableRef]:
        """Find tables not known yet; returns them."""
        check_root(self.root)
        new = []
        for ref in discover_tables(self.root):
            if ref.path not in self.readers:
                reader_cls = (
                    DeltaTableReader if ref.format is TableFormat.DELTA else ParquetTableReader
                )
                self.readers[ref.path] = (ref, reader_cls(ref.path, ref.kind))
                new.append(ref)
        return new

    def poll(
        self,
        *,
        rediscover: bool = True,
        only: set[Path] | None = None,
        consume: Consumer | None = None,
    ) -> StoreUpdate:
        """Read what is new. ``only`` limits reading to those table paths (from a change feed).

        Tables are read in parallel threads (Arrow releases the GIL). With ``consume``, each
        table's new rows are handed to it in the reading thread as soon as they are read, instead
        of being collected in the update — a cold load then never holds all raw events at once.
        """
        update = StoreUpdate()
        if rediscover or not self.readers:
            update.new_tables = self.discover()
        else:
            check_root(self.root)
        todo = [
            (path, ref, reader)
            for path, (ref, reader) in list(self.readers.items())
            if only is None or path in only or ref in update.new_tables
        ]

        def read(item: tuple[Path, TableRef, Reader]) -> tuple[Path, TableRef, Reader, object, int]:
            path, ref, reader = item
            try:
                batch = reader.read_new()
                rows = 0
                if consume is not None and batch.table is not None and batch.table.num_rows:
                    rows = batch.table.num_rows
                    consume(ref, batch.table)
                    batch.table = None
                return path, ref, reader, batch, rows
            except Exception as exc:  # one table's failure never stops the others
                return path, ref, reader, exc, 0

        if len(todo) > 2:
            with ThreadPoolExecutor(_THREADS) as pool:
                results = list(pool.map(read, todo))
        else:
            results = [read(item) for item in todo]
        for path, ref, reader, batch, consumed in results:
            if isinstance(batch, Exception):
                self._mark_broken(update, path, one_line(batch))
                continue
            assert isinstance(batch, FileBatch)
            update.problems.extend(batch.problems)
            if reader.broken:
                name, err = next(iter(reader.broken.items()))
                self._mark_broken(update, path, f"{name}: {err}")
            elif str(path) in self.broken:
                del self.broken[str(path)]
            if batch.table is not None and batch.table.num_rows:
                target = update.status if ref.kind is TableKind.STATUS else update.logs
                target.append((ref, batch.table))
            update.consumed += consumed
        self._poll_run_records(update)
        return update

    def _mark_broken(self, update: StoreUpdate, path: Path, err: str) -> None:
        msg = f"{path}: {err}"
        if self.broken.get(str(path)) != msg:
            update.problems.append(msg)
        self.broken[str(path)] = msg

    def _poll_run_records(self, update: StoreUpdate) -> None:
        pipelines = {ref.pipeline for ref, _ in self.readers.values()}
        for parts in pipelines:
            runs = self.root.joinpath(*parts, RUNS_DIR)
            try:
                entries = [
                    e
                    for e in os.scandir(runs)
                    if e.name.endswith(".json") and not e.name.startswith(".")
                ]
            except OSError:
                continue
            for e in entries:
                try:
                    st = e.stat()
                except OSError:
                    continue
                sig = (st.st_mtime, st.st_size)
                if self._records_seen.get(e.path) == sig:
                    continue
                try:
                    data = json.loads(Path(e.path).read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    update.problems.append(f"{e.path}: unreadable run record ({one_line(exc)})")
                    self._records_seen[e.path] = sig
                    continue
                self._records_seen[e.path] = sig
                update.run_records.setdefault(parts, []).append(data)
