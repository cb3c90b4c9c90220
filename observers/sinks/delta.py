"""Delta sink: each flush of a table is one append commit (never MERGE).

Adds ``__record_id`` (the same bytes as the event id) as orcapod's Delta database does,
so orcapod's ``ObservabilityReader`` reads our tables. A new tag column is added with
``schema_mode="merge"``.

Concurrent writers to one table race for the next commit version. A plain append never
conflicts logically, so a lost race is simply retried: delta-rs retries the commit itself
(``max_commit_retries``), and when it gives up (its known limit, delta-io/delta-rs#3066,
#3166) this sink tries again after a random (jittered) sleep, so that writers that
collided do not collide again in lock-step. Only then does the error reach the writer,
which retries with back-off and counts what it finally drops. Tables on object storage
(``s3://…``) get the root's storage options; delta-rs reads each cloud's environment
variables itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import pyarrow as pa

from observers.objstore import delta_options, is_url
from observers.schema import RECORD_ID
from observers.stats import WriterStats

#: Attempts of one append in this sink (each with delta-rs's own commit retries).
COMMIT_ATTEMPTS = 8
#: Upper bound of the first jittered sleep between attempts, in seconds (doubles).
JITTER_S = 0.02


def _is_conflict(exc: BaseException) -> bool:
    name = type(exc).__name__
    text = str(exc).lower()
    return name in {"CommitFailedError", "DeltaProtocolError"} and (
        "version" in text or "conflict" in text or "already exists" in text or "commit" in text
    )


class DeltaSink:
    """Appends batches to Delta tables with ``deltalake.write_deltalake``."""

    name = "delta"

    def __init__(
        self,
        writer_id: str,
        stats: WriterStats,
        storage_options: Mapping[str, str] | None = None,
    ):
        self.writer_id = writer_id
        self.stats = stats
        self.storage_options = delta_options(storage_options)
        self._rng = random.Random()

    def write(self, table_dir: str, table: pa.Table) -> None:
        """Append ``table`` (plus ``__record_id``) to the Delta table at ``table_dir``."""
        from deltalake import CommitProperties, write_deltalake

        id_column = table.column(0)
        table = table.add_column(0, RECORD_ID, id_column)
        options = self.storage_options if is_url(table_dir) else None
        ceiling = JITTER_S
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                write_deltalake(
                    table_dir,
                    table,
                    mode="append",
                    schema_mode="merge",
                    storage_options=options,
                    commit_properties=CommitProperties(max_commit_retries=50),
                )
            except Exception as exc:
                if not _is_conflict(exc) or attempt == COMMIT_ATTEMPTS - 1:
                    raise
                self.stats.add(retries=1)
                time.sleep(self._rng.uniform(0, ceiling))
                ceiling = min(ceiling * 2, 1.0)
                continue
            self.stats.add(files_written=1)
            return

    def compact(self, table_dir: str | None = None, *, force: bool = False) -> None:
        """Nothing to do: Delta readers follow the log; we leave OPTIMIZE to the owner."""
        return None
