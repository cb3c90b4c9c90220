"""Read a set of Parquet files into one normalised table, one bad file at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from orcatui.store import schema as s
from orcatui.store.discovery import TableKind
from orcatui.store.normalize import Normalised, normalise_logs, normalise_status

_THREADS = 4
# Columns a reader never needs: orcapod's record id duplicates the event id; system tags are null.
_SKIP_PREFIXES = ("__", "_tag_", "_tag::")


@dataclass
class FileBatch:
    """Normalised rows read from some files, and the files that could not be read."""

    table: pa.Table | None
    failed: dict[str, str] = field(default_factory=dict)  # path -> error (one line)
    problems: list[str] = field(default_factory=list)


def normaliser(kind: TableKind) -> Callable[[pa.Table, str], Normalised]:
    """The normalising function for a table kind."""
    return normalise_status if kind is TableKind.STATUS else normalise_logs


def _read_one(path: str) -> pa.Table:
    pf = pq.ParquetFile(path, memory_map=False)
    names = [n for n in pf.schema_arrow.names if not n.startswith(_SKIP_PREFIXES) or n in (s.S_ID,)]
    return pf.read(columns=names, use_threads=False)


def one_line(exc: BaseException) -> str:
    """An exception as a single line of text, for warnings."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def read_files(paths: Sequence[str], kind: TableKind, source: str) -> FileBatch:
    """Read and normalise ``paths``; a file that fails is reported in ``failed``, not raised."""
    tables: dict[str, pa.Table] = {}
    failed: dict[str, str] = {}

    def attempt(path: str) -> None:
        try:
            tables[path] = _read_one(path)
        except Exception as exc:  # any unreadable file is skipped and reported, never fatal
            failed[path] = one_line(exc)

    if len(paths) > 8:
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(attempt, paths))
    else:
        for p in paths:
            attempt(p)
    batch = FileBatch(None, failed)
    if not tables:
        return batch
    # Concatenate files that share a schema before normalising: one compute pass per schema.
    groups: dict[pa.Schema, list[pa.Table]] = {}
    for p in paths:
        t = tables.get(p)
        if t is not None:
            groups.setdefault(t.schema, []).append(t)
    norm = normaliser(kind)
    parts = []
    for group in groups.values():
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
