"""Write status/log tables and run records with pyarrow directly, in the layout of docs/design.md
("1 Layout", "3 Event schema")."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

IDENTITY = (
    "compute_score",
    "semantic_v0.1:" + "ab" * 32,
    "v0",
    "python.function.v0",
    "schema:" + "cd" * 32,
)


def iso(epoch: float) -> str:
    """ISO-8601 UTC, as orcapod writes it."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def status_dir(root: Path, pipeline: Iterable[str], identity: Iterable[str]) -> Path:
    """The status table directory of a node."""
    return root.joinpath(*pipeline, "_status", *identity, "execution_status")


def log_dir(root: Path, pipeline: Iterable[str], identity: Iterable[str]) -> Path:
    """The log table directory of a node."""
    return root.joinpath(*pipeline, "_log", *identity, "execution_logs")


def packet_events(run: str, start: int, n: int, t0: float, state: str = "SUCCESS") -> list[dict]:
    """Events of packets ``sub-<start>`` … ``sub-<start+n-1>``: RUNNING at ``t0 + i``, then
    ``state`` half a second later (nothing more when ``state`` is RUNNING)."""
    out = []
    for i in range(start, start + n):
        sid = f"sub-{i:04d}"
        out.append({"run": run, "state": "RUNNING", "ts": t0 + i, "subject_id": sid})
        if state != "RUNNING":
            out.append({"run": run, "state": state, "ts": t0 + i + 0.5, "subject_id": sid})
    return out


def _write(table: pa.Table, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    pq.write_table(table, tmp)
    final = directory / name
    os.replace(tmp, final)
    return final


def _event_id(seq: int) -> str:
    return str(uuid.UUID(int=(0x0190 << 112) | seq))


def write_status(
    directory: Path,
    events: Iterable[Mapping[str, object]],
    *,
    name: str = "part-0000.parquet",
    tags: Iterable[str] = ("subject_id",),
    seq_start: int = 0,
) -> Path:
    """One Parquet file of status events: dicts with run, state, ts, error and tag values."""
    tags = list(tags)
    rows = list(events)
    cols: dict[str, list] = {
        "_status_id": [_event_id(seq_start + i) for i in range(len(rows))],
        "_status_run_id": [r["run"] for r in rows],
        "_status_pipeline_uri": [r.get("uri", "") for r in rows],
        "_status_state": [r["state"] for r in rows],
        "_status_timestamp": [iso(float(r["ts"])) for r in rows],  # type: ignore[arg-type]
        "_status_error_summary": [r.get("error") for r in rows],
    }
    for t in tags:
        cols[t] = [None if r.get(t) is None else str(r[t]) for r in rows]
    return _write(pa.table(cols, schema=_schema(cols, "_status_")), directory, name)


def write_logs(
    directory: Path,
    logs: Iterable[Mapping[str, object]],
    *,
    name: str = "part-0000.parquet",
    tags: Iterable[str] = ("subject_id",),
) -> Path:
    """One Parquet file of log rows."""
    tags = list(tags)
    rows = list(logs)
    cols: dict[str, list] = {
        "_log_id": [_event_id(10_000_000 + i) for i in range(len(rows))],
        "_log_run_id": [r["run"] for r in rows],
        "_log_timestamp": [iso(float(r["ts"])) for r in rows],  # type: ignore[arg-type]
        "_log_stdout_log": [r.get("stdout") for r in rows],
        "_log_stderr_log": [r.get("stderr") for r in rows],
        "_log_python_logs": [r.get("python_logs") for r in rows],
        "_log_traceback": [r.get("traceback") for r in rows],
        "_log_success": [bool(r.get("success", False)) for r in rows],
    }
    for t in tags:
        cols[t] = [None if r.get(t) is None else str(r[t]) for r in rows]
    return _write(pa.table(cols, schema=_schema(cols, "_log_")), directory, name)


def _schema(cols: Mapping[str, list], prefix: str) -> pa.Schema:
    fields = []
    for c in cols:
        typ = pa.bool_() if c == "_log_success" else pa.string()
        fields.append(pa.field(c, typ))
    return pa.schema(fields)


def write_run_record(root: Path, pipeline: Iterable[str], record: Mapping[str, object]) -> Path:
    """A run record ``_runs/<run_id>.json``, replaced atomically."""
    runs = root.joinpath(*pipeline, "_runs")
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / f"{record['run_id']}.json"
    tmp = runs / f".{record['run_id']}.json.tmp"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, path)
    return path
