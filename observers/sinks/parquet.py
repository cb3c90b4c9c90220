"""Parquet sink: one file per flush per table, renamed into place, compacted per writer.

File names: ``<table>/<ms:013d>-<writer_id>-<seq:08d>.parquet``, where ``ms`` is the
time the file was written in milliseconds since the epoch, zero-padded to 13 digits (never
decreasing within a writer), so names sort by time across writers and a lister can resume
after the last name it has seen; compacted files are named the same way at the time of
compaction (so they sort after the files they replace). A file is written first as
``.<name>.tmp`` (readers ignore names starting with ``.`` or ``_``) and then
``os.replace``-d, so a reader never sees a partial file. Compaction writes the merged file
the same way, renames it into place and only *then* deletes the originals: a reader may
briefly see an event twice (it folds by event id), never miss one.

On object storage (``table_dir`` an ``s3://…`` URL) each file is one PUT of the whole object
(atomic: readers see all of it or nothing, so no temporary name), and compaction works the
same way: PUT the merged object (its key sorts after the ones it replaces), then DELETE the
originals. A reader that lists after the last key it has seen picks the merged object up
and folds its events by id; one that finds an original gone (404) relists. Compaction drops
partial log rows (``_log_success`` null) whose packet has a final row in the merged
files (see :mod:`observers.logging_observer`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from observers import schema as S
from observers.objstore import buckets_for, is_url
from observers.stats import WriterStats

log = logging.getLogger("observers")

#: Compact a table once this writer has more files than this in it.
MAX_FILES_PER_TABLE = 200
#: How a flush file is written. Each is small and read by every reader's cold load, and for a few
#: hundred rows Arrow's cost per file and column chunk dominates: without dictionary pages or
#: statistics (nothing reads them), snappy files read 2.7× faster and are written 3.4× faster
#: than zstd ones, for 15 % more bytes (100 status rows: 98 vs 266 µs to read, 150 vs 521 µs to
#: write, 6.4 vs 5.3 kB). They live until the next compaction.
FLUSH_OPTIONS: Mapping[str, object] = {
    "compression": "snappy",
    "use_dictionary": False,
    "write_statistics": False,
}
#: How a compacted file is written: up to ``max_files`` flushes in one file, where the per-file
#: cost is paid once and size matters: zstd, with dictionary pages.
COMPACTED_OPTIONS: Mapping[str, object] = {"compression": "zstd"}


def drop_superseded_partials(table: pa.Table) -> pa.Table:
    """Drop partial log rows (``_log_success`` null) of packets that have a final row.

    A packet is (run id, user tag values). Tables without partial rows come back as is.
    """
    if S.L_SUCCESS not in table.column_names or table.column(S.L_SUCCESS).null_count == 0:
        return table
    keys = [S.L_RUN, *(c for c in table.column_names if S.is_user_tag(c))]
    key_rows = list(zip(*(table.column(c).to_pylist() for c in keys), strict=True))
    success = table.column(S.L_SUCCESS).to_pylist()
    final = {k for k, ok in zip(key_rows, success, strict=True) if ok is not None}
    keep = [ok is not None or k not in final for k, ok in zip(key_rows, success, strict=True)]
    return table.filter(pa.array(keep, type=pa.bool_()))


class ParquetSink:
    """Writes plain Parquet table directories (see module docstring for naming)."""

    name = "parquet"

    def __init__(
        self,
        writer_id: str,
        stats: WriterStats,
        max_files: int = MAX_FILES_PER_TABLE,
        storage_options: Mapping[str, str] | None = None,
    ):
        self.writer_id = writer_id
        self.buckets = buckets_for(storage_options)
        self.stats = stats
        self.max_files = max_files
        self._seq = 0
        self._last_ms = 0
        self._lock = threading.RLock()
        self._own: dict[str, list[str]] = {}
        self._made_dirs: set[str] = set()

    def _next_name(self) -> str:
        with self._lock:
            self._seq += 1
            self._last_ms = max(self._last_ms, time.time_ns() // 1_000_000)
            return f"{self._last_ms:013d}-{self.writer_id}-{self._seq:08d}.parquet"

    def _write_object(self, table_dir: str, table: pa.Table, options: Mapping[str, object]) -> str:
        bucket, key = self.buckets.locate(table_dir)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **options)
        name = self._next_name()
        bucket.put(f"{key}/{name}", sink.getvalue().to_pybytes())
        self.stats.add(files_written=1)
        return f"{table_dir}/{name}"

    def _read(self, path: str) -> pa.Table:
        if is_url(path):
            bucket, key = self.buckets.locate(path)
            return pq.read_table(pa.BufferReader(bucket.get(key)))
        return pq.read_table(path)

    def _remove(self, paths: list[str]) -> None:
        local = [p for p in paths if not is_url(p)]
        for f in local:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f)
        remote = [p for p in paths if is_url(p)]
        if remote:
            bucket, _ = self.buckets.locate(remote[0])
            bucket.delete([self.buckets.locate(p)[1] for p in remote])

    def _write_file(
        self, table_dir: str, table: pa.Table, options: Mapping[str, object] = FLUSH_OPTIONS
    ) -> str:
        if is_url(table_dir):
            return self._write_object(table_dir, table, options)
        if table_dir not in self._made_dirs:
            os.makedirs(table_dir, exist_ok=True)
            self._made_dirs.add(table_dir)
        name = self._next_name()
        final = os.path.join(table_dir, name)
        tmp = os.path.join(table_dir, f".{name}.tmp")
        try:
            pq.write_table(table, tmp, **options)
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
                tables = [self._read(f) for f in files]
                merged = drop_superseded_partials(
                    pa.concat_tables(tables, promote_options="default")
                )
                new_path = self._write_file(d, merged, COMPACTED_OPTIONS)
                self._own[d] = [new_path]
                self._remove(files)
                self.stats.add(files_compacted=len(files))

    def own_files(self) -> dict[str, list[str]]:
        """The files this writer currently owns, per table directory (a copy)."""
        with self._lock:
            return {k: list(v) for k, v in self._own.items()}
