"""Idle CPU of the whole ``orcatui watch`` process in a real terminal (issue 9, performance).

Run: ``.venv/bin/python benchmarks/bench_watch_idle.py [--duration 60] [--tables 1000]
[--repo DIR]``.
Builds (once, cached) a root of Parquet tables with one small file each under ``/tmp``, shaped
like orcapod's output (status tables of RUNNING + SUCCESS events with fractional ISO timestamps,
half of them with 16-byte binary UUIDv7 ids and half with 36-char UUID strings; log tables with
log rows), starts ``orcatui watch ROOT`` in a detached tmux session (120×36) for each case — a
one-table root and the 1,000-table root with inotify, the 1,000-table root polling every 2 s —
waits until it has drawn its first frame, then reads the process's ``utime + stime`` from
``/proc/<pid>/stat`` over ``--duration`` seconds with nothing changing: the whole app (UI loop,
refresher, change feed, per-second tick), as a user runs it. Targets: inotify ≤ 1 % of a core,
polling ≤ 3 %. The figures are CPU-seconds of the process over the window (robust to a busy
machine, unlike wall-clock figures), with the load average printed beside them. ``--repo`` runs
another checkout's ``orcatui`` on the same roots (a baseline). Also prints the change feed alone
(a fresh process) for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from benchmarks._bytecode import compile_tree  # noqa: E402
from benchmarks._gen import ID_KINDS, T0_US, _ids, _iso, node_events  # noqa: E402
from observers import schema as s  # noqa: E402
from orcatui.watch import DEFAULT_POLL_S  # noqa: E402
from orcatui.watching.poller import REWALK_S, DirPoller, walk  # noqa: E402

TARGETS = {"inotify": 1.0, "polling": 3.0}
TMUX = f"orcatui-bench-idle-{os.getpid()}"  # own tmux server: other runs may use theirs
DATA_VERSION = 2  # bump when the generated roots change shape
CLK_TCK = os.sysconf("SC_CLK_TCK")
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


def _log_table(node: int, ids: str) -> pa.Table:
    """One log row (orcapod's logging observer: stdout, stderr, python logs, success)."""
    us = np.array([T0_US + node * 1_000 + 5_000], dtype=np.int64)
    return pa.table(
        {
            s.L_ID: _ids(1, node, ids, us),
            s.L_RUN: ["run1"],
            s.L_TS: _iso(us),
            s.L_STDOUT: [f"processing subject-0 on node {node}\n"],
            s.L_STDERR: [""],
            s.L_PYLOGS: ["INFO:bench:done"],
            s.L_TRACEBACK: pa.array([None], pa.string()),
            s.L_SUCCESS: [True],
            "subject_id": ["subject-0"],
            "session": ["0"],
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
    marker = root / f".built-v{DATA_VERSION}-{tables}"
    if marker.exists():
        return root
    for i, d in enumerate(table_dirs(root, tables)):
        d.mkdir(parents=True, exist_ok=True)
        ids = ID_KINDS[(i // 2) % 2]
        rows = node_events(i, 1, ids=ids) if d.name == s.STATUS_TABLE else _log_table(i, ids)
        pq.write_table(rows, d / "part-00000.parquet")
    for p in range(PIPELINES):
        result = root / f"pipeline_{p:02d}" / "_result" / "fn_0" / "x"
        result.mkdir(parents=True, exist_ok=True)
        pq.write_table(node_events(p, 1), result / "r.parquet")
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


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", TMUX, *args], check=True, capture_output=True, text=True
    ).stdout


def run_app(root: Path, poll: str, duration: float, warmup: float, repo: Path = REPO) -> dict:
    """``orcatui watch`` (of ``repo``) in a 120×36 tmux session; CPU of its process while idle."""
    env = f"PYTHONPATH={repo}"
    opts = "" if poll == "none" else f" --poll {poll}"
    cmd = f"cd {repo} && {env} exec {sys.executable} -m orcatui watch{opts} {root}"
    subprocess.run(["tmux", "-L", TMUX, "kill-server"], capture_output=True, check=False)
    _tmux("new-session", "-d", "-x", "120", "-y", "36", cmd)
    try:
        pid = int(_tmux("list-panes", "-F", "#{pane_pid}").split()[0])
        deadline = time.monotonic() + 120
        while "updated" not in _tmux("capture-pane", "-p"):
            if time.monotonic() > deadline:
                raise TimeoutError("the app never drew its first frame")
            time.sleep(0.2)
        time.sleep(warmup)
        c0, w0 = _cpu_s(pid), time.monotonic()
        time.sleep(duration)
        c1, w1 = _cpu_s(pid), time.monotonic()
        load = os.getloadavg()[0]
        header = _tmux("capture-pane", "-p").splitlines()[1]
    finally:
        subprocess.run(["tmux", "-L", TMUX, "kill-server"], capture_output=True, check=False)
    return {
        "idle_cpu_pct": 100 * (c1 - c0) / (w1 - w0),
        "idle_cpu_s": c1 - c0,
        "setup_cpu_s": c0,
        "load": load,
        "header": header,
    }


def main() -> None:
    """Parse arguments, build the root, measure each backend, print target vs measured."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="idle seconds measured per case")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument("--poll", type=float, default=DEFAULT_POLL_S, help="polling interval (s)")
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose orcatui runs")
    ap.add_argument("--app-only", action="store_true", help="skip the change-feed-only figures")
    args = ap.parse_args()
    compile_tree(Path(__file__).resolve().parents[1])  # bytecode as a pip install leaves it
    root = args.root or Path(f"/tmp/orcatui-bench-idle-{args.tables}")
    build_root(root, args.tables)
    one = build_root(Path("/tmp/orcatui-bench-idle-1"), 1)
    repo = args.repo.resolve()
    print(f"root: {root} ({args.tables} Parquet tables, one file each); idle {args.duration:g} s")
    print(f"whole app: orcatui watch from {repo}, in tmux 120×36, /proc utime+stime")
    print(
        f"  {'case':<36} {'target':>8} {'measured':>9} {'cpu-s':>7} {'start cpu':>10} {'load':>5}"
    )
    ok = True
    cases = (
        ("1 table, inotify", one, "none", TARGETS["inotify"]),
        (f"{args.tables} tables, inotify", root, "none", TARGETS["inotify"]),
        (
            f"{args.tables} tables, polling every {args.poll:g}s",
            root,
            str(args.poll),
            TARGETS["polling"],
        ),
    )
    for label, case_root, poll, target in cases:
        r = run_app(case_root, poll, args.duration, args.warmup, repo)
        pct = r["idle_cpu_pct"]
        ok &= pct <= target
        print(
            f"  {label:<36} {f'≤ {target:g} %':>8} {pct:>7.2f} % {r['idle_cpu_s']:>7.2f}"
            f" {r['setup_cpu_s']:>8.2f} s {r['load']:>5.2f}"
        )
    if not args.app_only:
        print("the change feed alone (fresh process, time.process_time()):")
        for poll in ("none", str(args.poll)):
            r = run_case(root, poll, args.duration, args.warmup)
            print(f"  {r['backend']:<40} {r['idle_cpu_pct']:>7.2f} % yields {r['yields']}")
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
            f"one polling check: {1000 * per_check:.1f} ms ({poller.stats_per_check} directory"
            f" stats); one rediscovery walk: {1000 * per_walk:.1f} ms (every {REWALK_S:g} s)"
        )
    print("PASS" if ok else "FAIL: above target")


if __name__ == "__main__":
    main()
