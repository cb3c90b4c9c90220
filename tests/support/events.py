"""Write real status/log tables (Parquet files, Delta commits) in the layout of design.md §2–3."""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

T0 = 1_795_880_000.0  # a fixed epoch second (2026-11-28) used by tests
_counter = itertools.count()


def iso(epoch: float) -> str:
    """ISO-8601 UTC as orcapod writes it (fraction omitted when zero)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def uuid7(epoch: float) -> bytes:
    """A UUIDv7-like 16-byte id ordered by ``epoch`` then by creation order."""
    ms = int(epoch * 1000)
    seq = next(_counter)
    return (
        ms.to_bytes(6, "big")
        + (0x7000 | (seq >> 62 & 0xFFF)).to_bytes(2, "big")
        + (seq & ((1 << 64) - 1)).to_bytes(8, "big")
    )


def event(
    state: str,
    at: float,
    run: str = "run1",
    error: str | None = None,
    uri: str = "etl@0123456789abcdef",
    **tags: Any,
) -> dict[str, Any]:
    """One status row."""
    return {
        "_status_id": uuid7(at),
        "_status_run_id": run,
        "_status_pipeline_uri": uri,
        "_status_state": state,
        "_status_timestamp": iso(at),
        "_status_error_summary": error,
        **{k: None if v is None else str(v) for k, v in tags.items()},
    }


def packet(run: str, start: float, end: float | None, state: str, error=None, **tags):
    """The events of one packet: RUNNING at ``start`` then ``state`` at ``end`` (if given)."""
    rows = [event("RUNNING", start, run, **tags)]
    if end is not None:
        rows.append(event(state, end, run, error, **tags))
    return rows


def table_dir(
    root: Path, pipeline: str | tuple[str, ...], node: tuple[str, ...], kind="status"
) -> Path:
    """The table directory of a node."""
    parts = (pipeline,) if isinstance(pipeline, str) else pipeline
    section, leaf = (
        ("_status", "execution_status") if kind == "status" else ("_log", "execution_logs")
    )
    return root.joinpath(*parts, section, *node, leaf)


def write_parquet(directory: Path, rows: list[dict[str, Any]], name: str | None = None) -> Path:
    """Write rows as one Parquet file, atomically (temporary name, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = name or f"part-{next(_counter):08d}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = directory / f".{name}.tmp"
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, directory / name)
    return directory / name


def write_status(root: Path, pipeline, node: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    """Append rows to a node's Parquet status table (one new file)."""
    return write_parquet(table_dir(root, pipeline, node), rows)


def log_row(run: str, at: float, stdout="", stderr="", logs="", tb=None, ok=True, **tags):
    """One log row."""
    return {
        "_log_id": uuid7(at),
        "_log_run_id": run,
        "_log_timestamp": iso(at),
        "_log_stdout_log": stdout,
        "_log_stderr_log": stderr,
        "_log_python_logs": logs,
        "_log_traceback": tb,
        "_log_success": ok,
        **{k: str(v) for k, v in tags.items()},
    }


def delta_append(directory: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows to a Delta table as one commit (creating the table on first use)."""
    from deltalake import write_deltalake

    directory.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows)
    if "_status_id" in table.column_names:
        table = table.append_column("__record_id", table.column("_status_id"))
    write_deltalake(str(directory), table, mode="append", schema_mode="merge")
