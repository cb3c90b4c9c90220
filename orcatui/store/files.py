"""Read a set of Parquet files into one normalised table, one bad file at a time."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from orcatui.store.discovery import TableKind
from orcatui.store.normalize import Normalised, normalise_logs, normalise_status

try:  # the reader behind pq.ParquetFile, without its per-file Python set-up
    from pyarrow._parquet import ParquetReader as _LowLevelReader
except ImportError:  # pragma: no cover - a pyarrow that moved it: use the public API
    _LowLevelReader = None
# Columns a reader never needs: orcapod's record id duplicates the event id; system tags are null.
_SKIP_PREFIXES = ("__", "_tag_", "_tag::")


@dataclass
class FileBatch:
    """Normalised rows read from some files, and the files that could not be read."""

    table: pa.Table | None
    failed: dict[str, str] = field(default_factory=dict)  # path -> error (one line)
    problems: list[str] = field(default_factory=list)
    #: Set by a helper process that also prepared the rows (``FileJob.prepare`` in
    #: :mod:`orcatui.store.fork_read`): its result, in place of ``table``; ``rows``: how many
    #: rows it was made of.
    prepared: Any = None
    rows: int = 0


def normaliser(kind: TableKind) -> Callable[[pa.Table, str], Normalised]:
    """The normalising function for a table kind."""
    return normalise_status if kind is TableKind.STATUS else normalise_logs


def _wanted(names: list[str]) -> list[int]:
    return [i for i, n in enumerate(names) if not n.startswith(_SKIP_PREFIXES)]


#: Files up to this size are read into memory with one system call before parsing.
WHOLE_FILE_MAX = 16 << 20


def _read_one(path: str) -> pa.Table:
    """One small Parquet file, read with as little overhead per file as pyarrow allows.

    Status files are tiny and many: ``pre_buffer`` (coalesced reads on an I/O pool) and
    ``ParquetFile``'s Python set-up cost more than the decoding itself, so both are skipped —
    this halves the time per file (measured 0.33 → 0.17 ms for a 100-row file). A file up to
    :data:`WHOLE_FILE_MAX` is read whole by ``os.read`` and parsed from memory: Arrow's file
    reader makes a system call per footer and column chunk, which cost another 40 % per
    100-row file (0.24 → 0.14 ms, ``benchmarks/bench_cold_load.py``). Larger files are read
    through an ``OSFile``. Names that are not UTF-8 (Arrow takes UTF-8 paths only) are read
    from memory whatever their size.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size <= WHOLE_FILE_MAX or not _utf8(path):
            source: pa.NativeFile = pa.BufferReader(_read_to_end(fd, size))
        else:
            source = pa.OSFile(path)
    finally:
        os.close(fd)
    with source:
        if _LowLevelReader is None:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(source, pre_buffer=False)
            names = pf.schema_arrow.names
            return pf.read(columns=[names[i] for i in _wanted(names)])
        reader = _LowLevelReader()
        reader.open(source, pre_buffer=False)
        return reader.read_all(column_indices=_wanted(reader.schema_arrow.names), use_threads=False)


def _read_to_end(fd: int, size: int) -> bytes:
    """The file's bytes up to its end (one ``read`` when it is ``size`` bytes, as expected)."""
    parts = [os.read(fd, size + 1)]
    while parts[-1]:
        parts.append(os.read(fd, 1 << 20))
    return parts[0] if len(parts) == 2 else b"".join(parts)


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def one_line(exc: BaseException) -> str:
    """An exception as a single line of text, for warnings."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def read_files(paths: Sequence[str], kind: TableKind, source: str) -> FileBatch:
    """Read and normalise ``paths``; a file that fails is reported in ``failed``, not raised."""
    tables: dict[str, pa.Table] = {}
    failed: dict[str, str] = {}

    # Serial on purpose: the store already reads tables in parallel threads, and nested pools
    # only add contention for the GIL.
    for p in paths:
        try:
            tables[p] = _read_one(p)
        except Exception as exc:  # any unreadable file is skipped and reported, never fatal
            failed[p] = one_line(exc)
    batch = FileBatch(None, failed)
    if not tables:
        return batch
    # Normalise once for all files: concatenate those that share a schema (usually all of them,
    # compared by reference to the first before any hashing) and normalise each group.
    groups: list[tuple[pa.Schema, list[pa.Table]]] = []
    for p in paths:
        t = tables.get(p)
        if t is None:
            continue
        for schema, group in groups:
            if t.schema is schema or t.schema.equals(schema):
                group.append(t)
                break
        else:
            groups.append((t.schema, [t]))
    norm = normaliser(kind)
    parts = []
    for _, group in groups:
        result = norm(pa.concat_tables(group), source)
        parts.append(result.table)
        batch.problems.extend(result.problems)
    batch.table = concat_normalised(parts)
    return batch


def concat_normalised(parts: Sequence[pa.Table]) -> pa.Table | None:
    """Concatenate normalised tables whose tag columns may differ (missing ones become null)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return pa.concat_tables(parts, promote_options="default")
