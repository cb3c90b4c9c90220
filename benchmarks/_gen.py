"""Generators of benchmark roots: real Parquet files and Delta commits (design.md §2 layout)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from observers.sinks.parquet import COMPACTED_OPTIONS, FLUSH_OPTIONS

# History starts three days before now: event times are believed only up to a day ahead of the
# reader's clock (later ones are skipped as implausible), so fixed dates would rot.
T0_US = (int(time.time()) - 3 * 86_400) * 1_000_000


ID_KINDS = ("binary", "string")  # orcapod 0.1.4: 16-byte UUIDv7; earlier releases: 36-char text


def _ids(n: int, seed: int, kind: str = "binary", ts_us: np.ndarray | None = None) -> pa.Array:
    """``n`` event ids: 16-byte UUIDv7 (time-ordered by ``ts_us``) or 36-char UUID strings."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    if ts_us is not None:  # UUIDv7: 48-bit ms timestamp, version 7, variant 10
        ms = (ts_us // 1000).astype(">u8").view(np.uint8).reshape(n, 8)[:, 2:]
        raw[:, :6] = ms
    raw[:, 6] = (raw[:, 6] & 0x0F) | (0x70 if ts_us is not None else 0x40)
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), n, [None, pa.py_buffer(raw.tobytes())]
    )
    if kind == "binary":
        return fixed.cast(pa.binary())
    hexed = raw.tobytes().hex()
    text = [
        f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        for h in (hexed[i : i + 32] for i in range(0, 32 * n, 32))
    ]
    return pa.array(text, pa.string())


def _iso(us: np.ndarray) -> pa.Array:
    """ISO-8601 as orcapod writes it: ``2026-11-28T15:13:37.610238+00:00`` (no fraction at 0)."""
    seconds = pa.array(us // 1_000_000, pa.timestamp("s", tz="UTC"))
    whole = pa.compute.strftime(seconds, "%Y-%m-%dT%H:%M:%S")
    frac = us % 1_000_000
    with_frac = np.char.add(np.char.add(".", np.char.zfill(frac.astype(str), 6)), "+00:00")
    tail = np.where(frac == 0, "+00:00", with_frac)
    return pa.compute.binary_join_element_wise(whole, pa.array(tail), "")


def _error(i: int) -> str:
    """A realistic ``str(exception)``: message only, sometimes several lines."""
    if i % 3 == 0:
        return (
            f"score out of range for subject-{i}: expected 0 <= score <= 1, got {1 + i / 997:.4f}"
        )
    if i % 3 == 1:
        return (
            f"could not normalise signal of subject-{i}\n"
            f"  channel 3 has {i % 17} NaN samples after resampling to 250 Hz\n"
            "  hint: check the electrode impedance log"
        )
    return f"[Errno 2] No such file or directory: '/data/raw/subject-{i}/session-{i % 7}.edf'"


def node_events(
    node: int, packets: int, run: str = "run1", offset_us: int = 0, ids: str = "binary"
) -> pa.Table:
    """RUNNING then SUCCESS (every 50th FAILED) for ``packets`` packets: 2 events each.

    Shaped like orcapod's output: fractional ISO timestamps, ids of the given generation
    (``binary`` 16-byte UUIDv7 or ``string`` 36-char UUIDs) and multi-line error messages.
    """
    idx = np.arange(packets)
    rng = np.random.default_rng(node + 1)
    start = T0_US + offset_us + node * 1_000 + idx * 10_000 + rng.integers(0, 999, packets)
    end = start + 5_000 + rng.integers(0, 999_999, packets)
    state = np.where(idx % 50 == 7, "FAILED", "SUCCESS")
    n = 2 * packets
    times = np.concatenate([start, end])
    return pa.table(
        {
            "_status_id": _ids(n, node, ids, times),
            "_status_run_id": pa.array([run] * n),
            "_status_pipeline_uri": pa.array(["bench@0123456789abcdef"] * n),
            "_status_state": pa.array(np.concatenate([np.full(packets, "RUNNING"), state])),
            "_status_timestamp": _iso(times),
            "_status_error_summary": pa.array(
                [None] * packets + [_error(i) if i % 50 == 7 else None for i in idx]
            ),
            "subject_id": pa.array(np.tile(np.char.add("subject-", idx.astype(str)), 2)),
            "session": pa.array(np.tile((idx % 7).astype(str), 2)),
        }
    )


def table_path(root: Path, node: int, kind: str = "status") -> Path:
    """Table directory of node ``node`` of the benchmark pipeline."""
    section, leaf = (
        ("_status", "execution_status") if kind == "status" else ("_log", "execution_logs")
    )
    return root / "bench" / section / f"fn_{node:04d}" / "v0" / leaf


def write_file(
    directory: Path, table: pa.Table, options: Mapping[str, object] = FLUSH_OPTIONS
) -> Path:
    """One Parquet file, written under a temporary name then renamed, by default as the Parquet
    sink writes a flush (``COMPACTED_OPTIONS``: as it writes a compacted file)."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.parquet"
    pq.write_table(table, directory / f".{name}", **options)
    os.replace(directory / f".{name}", directory / name)
    return directory / name


def parquet_root(
    root: Path, nodes: int, packets: int, files_per_node: int = 1, ids: str = "binary"
) -> int:
    """A root of ``nodes`` Parquet tables; returns the number of events written.

    Files are written as our Parquet sink writes them: one file per node as a compacted file,
    several as flushes."""
    total = 0
    options = COMPACTED_OPTIONS if files_per_node == 1 else FLUSH_OPTIONS
    for node in range(nodes):
        t = node_events(node, packets, ids=ids)
        step = -(-t.num_rows // files_per_node)
        for i in range(0, t.num_rows, step):
            write_file(table_path(root, node), t.slice(i, step), options)
        total += t.num_rows
    return total


def delta_root_orcapod_style(root: Path, tables: int, commits: int) -> int:
    """``tables`` Delta tables of ``commits`` one-row commits each (as orcapod writes)."""
    from deltalake import write_deltalake

    for node in range(tables):
        events = node_events(node, commits // 2)
        events = events.append_column("__record_id", events.column("_status_id"))
        path = str(table_path(root, node))
        Path(path).mkdir(parents=True, exist_ok=True)
        for i in range(events.num_rows):
            write_deltalake(path, events.slice(i, 1), mode="append")
    return tables * commits


def _stats(row: dict) -> str:
    import json

    mins = {k: v for k, v in row.items() if isinstance(v, str) and not k.startswith("__")}
    nulls = {k: int(v is None) for k, v in row.items() if not isinstance(v, bytes)}
    return json.dumps({"numRecords": 1, "minValues": mins, "maxValues": mins, "nullCount": nulls})


def delta_table_fast(path: Path, commits: int) -> int:
    """A Delta table of ``commits`` one-row commits, its log written directly (delta-rs takes
    minutes for 10,000 appends); a checkpoint as delta-rs would write every 100 commits is made
    at the end with delta-rs itself, so the table is opened through a real checkpoint."""
    import json

    from deltalake import DeltaTable, write_deltalake

    events = node_events(0, commits // 2)
    events = events.append_column("__record_id", events.column("_status_id"))
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), events.slice(0, 1), mode="append")  # version 0: schema, protocol
    log = path / "_delta_log"
    rows = events.to_pylist()
    for version in range(1, commits):
        name = f"part-{version:05d}-{uuid.uuid4()}.parquet"
        pq.write_table(events.slice(version, 1), path / name)
        add = {
            "path": name,
            "partitionValues": {},
            "size": (path / name).stat().st_size,
            "modificationTime": 1795880000000 + version,
            "dataChange": True,
            "stats": _stats(rows[version]),
        }
        info = {"timestamp": 1795880000000 + version, "operation": "WRITE"}
        (log / f"{version:020d}.json").write_text(
            json.dumps({"commitInfo": info}) + "\n" + json.dumps({"add": add}) + "\n"
        )
    DeltaTable(str(path)).create_checkpoint()
    return commits


def iso_moment(epoch: float) -> str:
    """A moment as orcapod writes it: ``2026-11-28T15:13:37.610238+00:00``."""
    frac = f"{int(epoch % 1 * 1e6):06d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{frac}+00:00"


def latency_packet(subject: str, at: float, run: str, pipeline: str) -> pa.Table:
    """One packet's status rows: RUNNING at ``at``, SUCCESS 10 ms later (orcapod's columns and
    timestamp format, 36-character ids); the latency benchmarks write one per measurement."""
    return pa.table(
        {
            "_status_id": [str(uuid.uuid4()), str(uuid.uuid4())],
            "_status_run_id": [run, run],
            "_status_pipeline_uri": [f"{pipeline}@0123456789abcdef"] * 2,
            "_status_state": ["RUNNING", "SUCCESS"],
            "_status_timestamp": [iso_moment(at), iso_moment(at + 0.01)],
            "_status_error_summary": pa.array([None, None], pa.string()),
            "subject_id": [subject, subject],
        }
    )
