"""Idle cost of the change feed on a 1,000-table root (issue: watch).

Run: ``.venv/bin/python benchmarks/bench_watch_idle.py [--duration 30] [--tables 1000]``.
Builds (once, cached) a root of Parquet tables with one small file each under ``/tmp``, then runs
a :class:`~orcatui.watch.ChangeFeed` in a fresh process per backend with nothing changing, and
prints the CPU it used as % of one core (``time.process_time()``: all threads, Rust's included).
Targets: inotify ≤ 1 %, polling (default interval 2.0 s; it backs off to 4× after 30 s quiet,
so a 30 s run measures mostly the un-backed-off rate) ≤ 3 %.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from orcatui.watch import DEFAULT_POLL_S  # noqa: E402
from orcatui.watching.poller import REWALK_S, DirPoller, walk  # noqa: E402

TARGETS = {"inotify": 1.0, "polling": 3.0}
PIPELINES = 10

_CHILD = """
import asyncio, json, sys, time
from pathlib import Path
from orcatui.watch import ChangeFeed

root, poll = Path(sys.argv[1]), sys.argv[2]
duration, warmup = float(sys.argv[3]), float(sys.argv[4])
feed = ChangeFeed(root, poll=None if poll == "none" else float(poll))
yields = []

async def consume():
    async for c in feed.changes():
        yields.append(c)

async def main():
    c0 = time.process_time()
    task = asyncio.create_task(consume())
    await asyncio.sleep(warmup)  # inotify watches set / first walk done
    c1, w1 = time.process_time(), time.monotonic()
    await asyncio.sleep(duration)
    c2, w2 = time.process_time(), time.monotonic()
    feed.stop()
    await asyncio.wait_for(task, 30)
    print(json.dumps({
        "backend": feed.backend,
        "setup_cpu_s": c1 - c0,
        "idle_cpu_pct": 100 * (c2 - c1) / (w2 - w1),
        "yields": len(yields),
    }))

asyncio.run(main())
"""


def _one_row_table(subject: str) -> pa.Table:
    return pa.table(
        {
            "_status_id": [str(uuid.uuid4())],
            "_status_run_id": ["run-1"],
            "_status_pipeline_uri": ["bench@0123456789abcdef"],
            "_status_state": ["SUCCESS"],
            "_status_timestamp": ["2026-01-01T00:00:00+00:00"],
            "_status_error_summary": pa.array([None], pa.string()),
            "subject_id": [subject],
        }
    )


def table_dirs(root: Path, tables: int) -> list[Path]:
    """The table directories of a generated root: orcapod-shaped node paths, status + log."""
    out = []
    per_pipeline = max(1, tables // (2 * PIPELINES))
    for p in range(PIPELINES):
        for n in range(per_pipeline):
            node = (f"fn_{n % 7}", f"semantic_v0.1:{n:04x}", "v0", "python.function.v0", "schema:s")
            base = root / f"pipeline_{p:02d}"
            out.append(base.joinpath("_status", *node, "execution_status"))
            out.append(base.joinpath("_log", *node, "execution_logs"))
    return out[:tables]


def build_root(root: Path, tables: int) -> Path:
    """A root with ``tables`` Parquet tables of one file each, plus a ``_result`` tree (cached)."""
    marker = root / f".built-{tables}"
    if marker.exists():
        return root
    row = _one_row_table("subject-0")
    for d in table_dirs(root, tables):
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(row, d / "part-00000.parquet")
    for p in range(PIPELINES):
        result = root / f"pipeline_{p:02d}" / "_result" / "fn_0" / "x"
        result.mkdir(parents=True, exist_ok=True)
        pq.write_table(row, result / "r.parquet")
    marker.touch()
    return root


def run_case(root: Path, poll: str, duration: float, warmup: float) -> dict:
    """Run the feed in a fresh process; returns its figures."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), poll, str(duration), str(warmup)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments, build the root, measure each backend, print target vs measured."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=30.0, help="idle seconds measured per case")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument("--poll", type=float, default=DEFAULT_POLL_S, help="polling interval (s)")
    ap.add_argument("--root", type=Path, default=None)
    args = ap.parse_args()
    root = args.root or Path(f"/tmp/orcatui-bench-watch-{args.tables}")
    build_root(root, args.tables)
    print(f"root: {root} ({args.tables} Parquet tables, one file each); idle {args.duration:g} s")
    print(f"{'backend':<44} {'target':>8} {'measured':>9} {'setup cpu':>10} {'yields':>7}")
    ok = True
    for name, poll in (("inotify", "none"), ("polling", str(args.poll))):
        r = run_case(root, poll, args.duration, args.warmup)
        target = TARGETS[name]
        pct = r["idle_cpu_pct"]
        ok &= pct <= target
        print(
            f"{r['backend']:<44} {f'≤ {target:g} %':>8} {pct:>7.2f} % {r['setup_cpu_s']:>8.2f} s"
            f" {r['yields']:>7}"
        )
    poller = DirPoller(root)
    poller.start()
    t0 = time.perf_counter()
    for _ in range(20):
        poller.check()
    per_check = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    walk(root)
    per_walk = time.perf_counter() - t0
    print(
        f"one polling check: {1000 * per_check:.1f} ms ({poller.stats_per_check} directory stats);"
        f" one rediscovery walk: {1000 * per_walk:.1f} ms (every {REWALK_S:g} s)"
    )
    print("PASS" if ok else "FAIL: above target")


if __name__ == "__main__":
    main()
