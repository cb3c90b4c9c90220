"""A node's log rows and the lookup of one packet's log row (design.md §3 partial rows, §5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from orcatui.model.keys import key_of, packet_keys
from orcatui.store.files import concat_normalised


@dataclass(frozen=True)
class LogRow:
    """The captured output of one packet."""

    run_id: str
    ts_us: int | None
    stdout: str | None
    stderr: str | None
    python_logs: str | None
    traceback: str | None
    success: bool | None


class NodeLogs:
    """All log rows of one node's log table, appended as they arrive."""

    def __init__(self) -> None:
        self._chunks: list[pa.Table] = []
        self._table: pa.Table | None = None
        self.rows = 0

    def add(self, rows: pa.Table) -> None:
        """Append normalised log rows."""
        self._chunks.append(rows.append_column("key", packet_keys(rows)))
        self._table = None
        self.rows += rows.num_rows

    def table(self) -> pa.Table | None:
        """Every log row of the node as one table (None before the first row)."""
        if self._table is None and self._chunks:
            self._table = concat_normalised(self._chunks)
            self._chunks = [self._table]
        return self._table

    def lookup(self, run_id: str, tags: Mapping[str, str | None]) -> LogRow | None:
        """The newest log row with this run id and tag values, or None (cached/reused packets)."""
        table = self.table()
        if table is None:
            return None
        hits = table.filter(pc.equal(table.column("key"), key_of(run_id, tags)))
        if hits.num_rows == 0:
            return None
        hits = hits.sort_by([("ts", "descending"), ("id", "descending")])
        r = hits.slice(0, 1).to_pylist()[0]
        return LogRow(
            run_id=r["run_id"],
            ts_us=r["ts"],
            stdout=r["stdout"],
            stderr=r["stderr"],
            python_logs=r["python_logs"],
            traceback=r["traceback"],
            success=r["success"],
        )


def no_log_reason(state: str) -> str:
    """Why a packet in ``state`` may have no log row (orcapod writes none for these cases)."""
    if state == "CACHED":
        return "no log row: cached result (the function did not run)"
    if state == "RUNNING":
        return "no log row yet: the packet is still running (output is written when it ends)"
    if state == "LOST":
        return "no log row: the packet never finished, so nothing was written"
    if state == "SUCCESS":
        return "no log row: result reused from an identical earlier input"
    return "no log row was written for this packet"
