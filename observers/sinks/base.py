"""The interface a sink implements, and the factory that picks one by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from observers.stats import WriterStats


class Sink(Protocol):
    """Appends Arrow batches to one table directory at a time.

    ``write`` must be all-or-nothing from a reader's point of view (no partial file or
    commit becomes visible) and may raise; the writer retries it. ``compact`` merges what
    this sink wrote into as few files as it can; it must never leave a gap.
    """

    name: str

    def write(self, table_dir: str, table: pa.Table) -> None:
        """Append ``table`` to the table at ``table_dir`` (created on first write)."""
        ...

    def compact(self, table_dir: str | None = None, *, force: bool = False) -> None:
        """Merge this writer's files (all tables when ``table_dir`` is None)."""
        ...


def make_sink(
    kind: str,
    writer_id: str,
    stats: WriterStats,
    storage_options: Mapping[str, str] | None = None,
) -> Sink:
    """Build the sink named ``kind`` (``"parquet"`` or ``"delta"``).

    ``storage_options`` are used for tables on object storage (``s3://…``).
    """
    if kind == "parquet":
        from observers.sinks.parquet import ParquetSink

        return ParquetSink(writer_id, stats, storage_options=storage_options)
    if kind == "delta":
        from observers.sinks.delta import DeltaSink

        return DeltaSink(writer_id, stats, storage_options=storage_options)
    raise ValueError(f"unknown sink {kind!r} (expected 'parquet' or 'delta')")
