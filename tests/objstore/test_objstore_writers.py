"""Our observers writing to S3 (moto on loopback), read back through the object-store layer."""

from __future__ import annotations

import logging
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from support.observers import read_tables

import observers
from orcatui.store.objstore import RemoteRoot


def _remote_tables(url: str) -> dict[str, list[pa.Table]]:
    """Table prefix (relative to the root) → its tables, read the way a cold reader does."""
    root = RemoteRoot(url)
    listing = root.scan()
    out: dict[str, list[pa.Table]] = {}
    for key, objects in listing.parquet.items():
        batch = root.parquet_tail(key, objects).poll()
        out[root.relative(key)] = [t for _, t in batch.tables]
    for key in listing.delta:
        batch = root.delta_tail(key).poll()
        out[root.relative(key)] = [t for _, t in batch.tables]
    return out


def _events(tables: list[pa.Table], id_column: str) -> tuple[Counter, int]:
    """Multiset of (state-or-success, tags…) over distinct event ids, and the id count."""
    seen: set[bytes] = set()
    out: Counter = Counter()
    for t in tables:
        for r in t.to_pylist():
            if r[id_column] in seen:
                continue
            seen.add(r[id_column])
            kind = r.get("_status_state", r.get("_log_success"))
            out[(r.get("_status_run_id") or r.get("_log_run_id"), kind, r["who"], r["i"])] += 1
    return out, len(seen)


def _write(root: str, sink: str) -> None:
    run = observers.run(root, pipeline="p", run_id="r1", sink=sink, flush_interval=0.05)
    with run, run.node("work") as node:
        for i in range(40):
            with node.packet(suppress=True, who="a", i=i):
                print(f"packet {i}")
                if i % 7 == 0:
                    raise RuntimeError(f"bad {i}")


@pytest.mark.parametrize("sink", ["parquet", "delta"])
def test_s3_store_equals_local_store(tmp_path: Path, s3_bucket: str, sink: str) -> None:
    local = tmp_path / "root"
    url = f"s3://{s3_bucket}/db"
    _write(str(local), sink)
    _write(url, sink)
    remote = _remote_tables(url)
    for name, id_col in (("execution_status", "_status_id"), ("execution_logs", "_log_id")):
        (local_table,) = read_tables(local, name).values()
        (rel,) = [k for k in remote if k.endswith("/" + name)]
        assert rel == str(next(iter(read_tables(local, name))))[len(str(local)) + 1 :]
        want, _ = _events([local_table], id_col)
        got, _ = _events(remote[rel], id_col)
        assert got == want and sum(want.values()) > 0
    records = RemoteRoot(url).run_records().poll()
    assert len(records) == 1 and records[0]["outcome"] == "completed"
    assert len(list(local.rglob("_runs/*/*.json"))) == 1


CHILD = r"""
import sys
import observers
root, sink, who, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with observers.run(root, pipeline="shared", sink=sink, flush_interval=0.05, logs=False) as run:
    with run.node("work") as node:
        for i in range(n):
            node._obs.on_data_start("work", {"who": who, "i": i}, None)
            node._obs.on_data_end("work", {"who": who, "i": i}, None, None, False)
stats = run.status.stats
assert stats["events_dropped"] == 0, stats
"""


@pytest.mark.slow
@pytest.mark.parametrize(("sink", "count"), [("parquet", 2000), ("delta", 150)])
def test_four_processes_one_s3_store(
    tmp_path: Path, s3_bucket: str, python: str, child_env: dict[str, str], sink: str, count: int
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    url = f"s3://{s3_bucket}/db"
    procs = [
        subprocess.Popen([python, str(script), url, sink, f"w{k}", str(count)], env=child_env)
        for k in range(4)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0, 0, 0]
    remote = _remote_tables(url)
    (rel,) = remote
    rows = [r for t in remote[rel] for r in t.to_pylist()]
    ids = Counter(r["_status_id"] for r in rows)
    keys = Counter((r["who"], r["i"], r["_status_state"]) for r in rows)
    assert max(ids.values()) == 1, "an event was read twice"
    expected = {
        (f"w{k}", str(i), s) for k in range(4) for i in range(count) for s in ("RUNNING", "SUCCESS")
    }
    assert set(keys) == expected and max(keys.values()) == 1
    assert len(RemoteRoot(url).run_records().poll()) == 4
    if sink == "parquet":  # compacted at run end: one object per writer
        assert len(RemoteRoot(url).scan().parquet[f"db/{rel}"]) == 4


def test_reader_following_compaction_misses_nothing(s3_bucket: str) -> None:
    """A reader that tails while the writer compacts ends with every event exactly once
    (folding by event id), and a cold reader afterwards sees the compacted object only."""
    url = f"s3://{s3_bucket}/db"
    seen: dict[bytes, dict] = {}
    run = observers.run(url, pipeline="p", sink="parquet", flush_interval=0.02, logs=False)
    root = RemoteRoot(url)
    tail = None
    with run, run.node("n") as node:
        for i in range(30):
            node._obs.on_data_start("n", {"i": i}, None)
            node._obs.on_data_end("n", {"i": i}, None, None, False)
            run.status.flush()
            if i % 10 == 9:
                if tail is None:
                    (key,) = root.scan().parquet
                    tail = root.parquet_tail(key)
                for _, t in tail.poll().tables:
                    seen.update((r["_status_id"], r) for r in t.to_pylist())
    assert run.status.stats["files_compacted"] > 0
    batch = tail.poll()
    for _, t in batch.tables:
        seen.update((r["_status_id"], r) for r in t.to_pylist())
    assert Counter(r["_status_state"] for r in seen.values()) == {"RUNNING": 30, "SUCCESS": 30}
    cold = _remote_tables(url)
    (tables,) = cold.values()
    assert len(tables) == 1 and tables[0].num_rows == 60


def test_writer_to_missing_bucket_never_raises(s3_bucket: str, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="observers")
    with (
        observers.run(
            "s3://no-such-bucket-x/db",
            pipeline="p",
            sink="parquet",
            flush_interval=0.02,
            logs=False,
        ) as run,
        run.node("n") as node,
    ):
        node._obs.on_data_start("n", {"i": 1}, None)
        node._obs.on_data_end("n", {"i": 1}, None, None, False)
    stats = run.status.stats
    assert stats["events_written"] == 0 and stats["events_dropped"] == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("bucket 'no-such-bucket-x' does not exist" in w for w in warnings)
