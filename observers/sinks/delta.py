"""Delta sink: each flush of a table is one append commit (never MERGE).

Adds ``__record_id`` (the same bytes as the event id) as orcapod's Delta database does,
so orcapod's ``ObservabilityReader`` reads our tables. A new tag column is added with
``schema_mode="merge"``. Commit conflicts between processes raise and are retried by
the writer with back-off.
"""

from __future__ import annotations

import pyarrow as pa

from observers.schema import RECORD_ID
from observers.stats import WriterStats


class DeltaSink:
    """Appends batches to Delta tables with ``deltalake.write_deltalake``."""

    name = "delta"

    def __init__(self, writer_id: str, stats: WriterStats):
        self.writer_id = writer_id
        self.stats = stats

    def write(self, table_dir: str, table: pa.Table) -> None:
        """Append ``table`` (plus ``__record_id``) to the Delta table at ``table_dir``."""
        from deltalake import write_deltalake

        id_column = table.column(0)
        table = table.add_column(0, RECORD_ID, id_column)
        write_deltalake(table_dir, table, mode="append", schema_mode="merge")
        self.stats.add(files_written=1)

    def compact(self, table_dir: str | None = None, *, force: bool = False) -> None:
        """Nothing to do: Delta readers follow the log; we leave OPTIMIZE to the owner."""
        return None
