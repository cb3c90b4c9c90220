"""Building roots on disk and driving a :class:`ChangeFeed` from synchronous tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orcatui.watch import ChangeFeed, Changes

PIPELINE = "pipe"
NODE = (
    "compute_score",
    "semantic_v0.1:3833",
    "v0",
    "python.function.v0",
    "schema:semantic_v0.1:0ef2",
)
_seq = itertools.count()


def status_table_dir(root: Path, node: tuple[str, ...] = NODE) -> Path:
    """Where the status table of ``node`` of the test pipeline lives."""
    return root.joinpath(PIPELINE, "_status", *node, "execution_status")


def log_table_dir(root: Path, node: tuple[str, ...] = NODE) -> Path:
    """Where the log table of ``node`` of the test pipeline lives."""
    return root.joinpath(PIPELINE, "_log", *node, "execution_logs")


def status_rows(n: int = 1, run_id: str = "run-1") -> pa.Table:
    """``n`` status events (RUNNING) with distinct subjects."""
    ts = "2026-01-01T00:00:00.000001+00:00"
    return pa.table(
        {
            "_status_id": [str(uuid.uuid4()) for _ in range(n)],
            "_status_run_id": [run_id] * n,
            "_status_pipeline_uri": ["pipe@0123456789abcdef"] * n,
            "_status_state": ["RUNNING"] * n,
            "_status_timestamp": [ts] * n,
            "_status_error_summary": pa.array([None] * n, pa.string()),
            "subject_id": [f"s{next(_seq)}" for _ in range(n)],
        }
    )


def write_parquet(table_dir: Path, rows: pa.Table | None = None, name: str | None = None) -> Path:
    """Write one Parquet file the way our writers do: temporary ``.`` name, then rename."""
    table_dir.mkdir(parents=True, exist_ok=True)
    name = name or f"part-{next(_seq):06d}.parquet"
    tmp = table_dir / f".{name}.tmp"
    pq.write_table(rows if rows is not None else status_rows(), tmp)
    final = table_dir / name
    os.replace(tmp, final)
    return final


def write_run_record(root: Path, run_id: str = "run-1") -> Path:
    """Replace ``_runs/<run_id>.json`` atomically."""
    runs = root / PIPELINE / "_runs"
    runs.mkdir(parents=True, exist_ok=True)
    tmp = runs / f".{run_id}.json.tmp"
    tmp.write_text(json.dumps({"run_id": run_id, "heartbeat_at": time.time()}))
    final = runs / f"{run_id}.json"
    os.replace(tmp, final)
    return final


def make_root(root: Path) -> Path:
    """A root with one status table (one file), one log dir, ``_runs`` and a ``_result`` tree."""
    write_parquet(status_table_dir(root))
    log_table_dir(root).mkdir(parents=True)
    write_run_record(root)
    result = root / PIPELINE / "_result" / "compute_score" / "abc"
    result.mkdir(parents=True)
    (result / "old.parquet").write_bytes(b"x")
    return root


def backdate(root: Path, seconds: float = 60.0) -> None:
    """Set every directory's mtime into the past, as for data written long before the feed."""
    past = time.time() - seconds
    for dirpath, _dirs, _files in os.walk(root):
        os.utime(dirpath, (past, past))


class FeedRun:
    """Runs ``feed.changes()`` in a task and collects what it yields."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed
        self.got: list[Changes] = []
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FeedRun:
        self._task = asyncio.create_task(self._pump())
        await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.feed.stop()
        assert self._task is not None
        await asyncio.wait_for(self._task, 10)  # re-raises anything the feed raised

    async def _pump(self) -> None:
        async for changes in self.feed.changes():
            self.got.append(changes)
            self._new.set()

    def merged(self, start: int = 0) -> Changes:
        """Everything yielded since index ``start``, folded into one."""
        out = Changes()
        for c in self.got[start:]:
            out.merge(c)
        return out

    async def wait_until(
        self, pred: Callable[[Changes], bool], timeout: float = 10.0, start: int = 0
    ) -> Changes:
        """Wait until what was yielded since ``start`` satisfies ``pred``; fail on timeout."""
        deadline = time.monotonic() + timeout
        while not pred(self.merged(start)):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {self.got[start:]}"
            assert self._task is not None and not self._task.done(), "feed ended"
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), min(left, 0.2))
        return self.merged(start)

    async def ready(self, root: Path, timeout: float = 10.0) -> None:
        """Touch a run record until the feed reports it: the watch is in place."""
        start = len(self.got)
        deadline = time.monotonic() + timeout
        while not self.merged(start).rescan:
            assert time.monotonic() < deadline, "feed never became ready"
            write_run_record(root, "probe")
            await asyncio.sleep(0.1)

    async def settle(self, quiet: float = 0.8, limit: float = 10.0) -> None:
        """Wait until nothing has been yielded for ``quiet`` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            n = len(self.got)
            await asyncio.sleep(quiet)
            if len(self.got) == n:
                return
        raise AssertionError(f"feed never went quiet: {self.got[-5:]}")
