"""Parquet sink: one file per flush per table, renamed into place, compacted per writer.

File names: ``<table>/<writer_id>-<seq:08d>.parquet``. A file is written first as
``.<writer_id>-<seq>.parquet.tmp`` (readers ignore names starting with ``.``) and then
``os.replace``-d, so a reader never sees a partial file. Compaction writes the merged file
the same way, renames it into place and only *then* deletes the originals: a reader may
briefly see an event twice (it folds by event id), never miss one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

import pyarrow as pa
import pyarrow.parquet as pq

from observers.stats import WriterStats

log = logging.getLogger("observers")

#: Compact a table once this writer has more files than this in it.
MAX_FILES_PER_TABLE = 200


class ParquetSink:
    """Writes plain Parquet table directories (see module docstring for naming)."""

    name = "parquet"

    def __init__(self, writer_id: str, stats: WriterStats, max_files: int = MAX_FILES_PER_TABLE):
        self.writer_id = writer_id
        self.stats = stats
        self.max_files = max_files
        self._seq = 0
        self._lock = threading.RLock()
        self._own: dict[str, list[str]] = {}
        self._made_dirs: set[str] = set()

    def _next_name(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self.writer_id}-{self._seq:08d}.parquet"

    def _write_file(self, table_dir: str, table: pa.Table) -> str:
        if table_dir not in self._made_dirs:
            os.makedirs(table_dir, exist_ok=True)
            self._made_dirs.add(table_dir)
        name = self._next_name()
        final = os.path.join(table_dir, name)
        tmp = os.path.join(table_dir, f".{name}.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if not os.path.isdir(table_dir):
                self._made_dirs.discard(table_dir)
            raise
        self.stats.add(files_written=1)
        return final

    def write(self, table_dir: str, table: pa.Table) -> None:
        """Write ``table`` as one new file of ``table_dir``; compact when there are many."""
        path = self._write_file(table_dir, table)
        with self._lock:
            files = self._own.setdefault(table_dir, [])
            files.append(path)
            too_many = len(files) > self.max_files
        if too_many:
            try:
                self.compact(table_dir)
            except Exception:
                log.warning("observers: compaction of %s failed", table_dir, exc_info=True)

    def compact(self, table_dir: str | None = None, *, force: bool = False) -> None:
        """Merge the files this writer wrote in ``table_dir`` (or every table) into one."""
        with self._lock:
            dirs = [table_dir] if table_dir is not None else list(self._own)
            for d in dirs:
                files = list(self._own.get(d, ()))
                if len(files) < 2:
                    continue
                tables = [pq.read_table(f) for f in files]
                merged = pa.concat_tables(tables, promote_options="default")
                new_path = self._write_file(d, merged)
                self._own[d] = [new_path]
                for f in files:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f)
                self.stats.add(files_compacted=len(files))

    def own_files(self) -> dict[str, list[str]]:
        """The files this writer currently owns, per table directory (a copy)."""
        with self._lock:
            return {k: list(v) for k, v in self._own.items()}
