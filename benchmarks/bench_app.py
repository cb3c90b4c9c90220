"""App benchmarks, printing figures (never part of the test run).

Run: ``.venv/bin/python benchmarks/bench_app.py``.

1. A node of 100,000 packets: selecting it in the tree → the table painted.
2. Key presses (cursor down) → repaint, while 1,000 events/s are written into the watched root.
3. A tree of 2,000 nodes: first build and an in-place update.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.builders import IDENTITY, status_dir, write_status

from orcatui.app.main import OrcaApp
from orcatui.app.node_tree import NodeTree
from orcatui.app.packet_table import PacketTable
from orcatui.model.monitor import NodeInfo, PipelineInfo, Snapshot
from orcatui.model.naming import NodeName
from orcatui.model.views import View

N = 100_000
PIPE = ("bench_pipeline",)
SMALL = ("small_fn", "v0")


def build_root(root: Path, t0: float) -> None:
    """One big node (100,000 packets, RUNNING + SUCCESS each) and a small one."""
    events = []
    for i in range(N):
        sid = f"s{i:06d}"
        events.append({"run": "r1", "state": "RUNNING", "ts": t0 + i * 0.001, "subject_id": sid})
        events.append(
            {"run": "r1", "state": "SUCCESS", "ts": t0 + i * 0.001 + 0.5, "subject_id": sid}
        )
    write_status(status_dir(root, PIPE, IDENTITY), events)
    write_status(
        status_dir(root, PIPE, SMALL),
        [{"run": "r1", "state": "SUCCESS", "ts": t0 - 10, "subject_id": "x"}],
    )


async def wait_until(pilot, cond, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError
        await pilot.pause(0.005)


async def bench_open(root: Path) -> None:
    app = OrcaApp(root, static=True, tick=None)
    t = time.perf_counter()
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(
            pilot,
            lambda: (
                app.main is not None
                and app.main.frame is not None
                and app.main.frame.snapshot.pipelines
            ),
        )
        print(
            f"start → first frame (reads + folds 200,000 events): {time.perf_counter() - t:.2f} s"
        )
        tree = app.main.query_one(NodeTree)
        table = app.main.query_one(PacketTable)
        await wait_until(pilot, lambda: table.row_count > 0)
        for key in (SMALL, IDENTITY):
            line = tree.line_of((PIPE, key))
            t = time.perf_counter()
            tree.move_cursor(line)
            want = N if key == IDENTITY else 1
            await wait_until(pilot, lambda want=want: table.row_count == want)
            await pilot.pause()
            print(
                f"select node of {want:,} packets → table painted: {time.perf_counter() - t:.3f} s"
            )
        table.focus()
        height = table.scrollable_content_region.height
        times = []
        for _ in range(30):
            t = time.perf_counter()
            table.action_page(1)
            for y in range(height):
                table.render_line(y)
            times.append(time.perf_counter() - t)
        print(
            f"page down on 100,000 rows (move + render {height} new lines): "
            f"median {statistics.median(times) * 1e3:.2f} ms"
        )
        t = time.perf_counter()
        table.action_edge(1)
        for y in range(height):
            table.render_line(y)
        print(f"end (jump to row 100,000 + render): {(time.perf_counter() - t) * 1e3:.2f} ms")


async def bench_stream(root: Path) -> None:
    app = OrcaApp(root, poll=0.25, static=False, tick=1.0)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        d = status_dir(root, PIPE, IDENTITY)
        i = 0
        while not stop.is_set():
            t0 = time.time()
            ev = [
                {"run": "r1", "state": "RUNNING", "ts": t0, "subject_id": f"new{i * 50 + k:07d}"}
                for k in range(50)
            ] + [
                {
                    "run": "r1",
                    "state": "SUCCESS",
                    "ts": t0 + 0.01,
                    "subject_id": f"new{i * 50 + k:07d}",
                }
                for k in range(50)
            ]
            write_status(d, ev, name=f"stream-{i:05d}.parquet", seq_start=10_000_000 + i * 100)
            written[0] += len(ev)
            i += 1
            stop.wait(max(0.0, 0.1 - (time.time() - t0)))

    async with app.run_test(size=(160, 50)) as pilot:
        table = app.main.query_one(PacketTable)
        tree = app.main.query_one(NodeTree)
        await wait_until(pilot, lambda: tree.line_of((PIPE, IDENTITY)) is not None)
        await pilot.pause(0.2)
        tree.move_cursor(tree.line_of((PIPE, IDENTITY)))
        await wait_until(pilot, lambda: table.row_count >= N)
        table.focus()
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        t_start = time.perf_counter()
        times = []
        loop_waits = []
        height = table.scrollable_content_region.height
        for _ in range(100):
            # UI-loop latency: how long a key event would wait behind frame rendering.
            fut = asyncio.get_running_loop().create_future()
            t = time.perf_counter()
            app.call_later(fut.set_result, None)
            await fut
            loop_waits.append(time.perf_counter() - t)
            # The repaint itself: move the cursor and render every visible line afresh.
            t = time.perf_counter()
            table.action_cursor(1)
            table.forget_rendered()
            for y in range(height):
                table.render_line(y)
            times.append(time.perf_counter() - t)
            await asyncio.sleep(0.03)
        elapsed = time.perf_counter() - t_start
        stop.set()
        th.join()
        times.sort()
        loop_waits.sort()
        rate = written[0] / elapsed
        print(
            f"while streaming {rate:,.0f} events/s (rows now {table.row_count:,}):\n"
            f"  cursor move + full repaint of {height} lines: median "
            f"{statistics.median(times) * 1e3:.1f} ms, p95 {times[94] * 1e3:.1f} ms\n"
            f"  UI loop wait before a key is handled: median "
            f"{statistics.median(loop_waits) * 1e3:.1f} ms, p95 {loop_waits[94] * 1e3:.1f} ms, "
            f"max {loop_waits[-1] * 1e3:.1f} ms"
        )


def fake_snapshot(n_nodes: int, version: int) -> Snapshot:
    pipes = []
    per = 100
    for p in range(n_nodes // per):
        name = ("lab", f"pipeline_{p:02d}")
        nodes = tuple(
            NodeInfo(
                (name, (f"fn_{i:03d}", "v0")),
                NodeName(f"fn_{i:03d}", f"fn_{i:03d}", None, "v0"),
                {
                    "SUCCESS": 10 + version,
                    "CACHED": 0,
                    "FAILED": i % 3,
                    "RUNNING": 0,
                    "LOST": i % 5,
                },
                ("subject_id",),
            )
            for i in range(per)
        )
        counts = {"SUCCESS": per * 10, "CACHED": 0, "FAILED": 1, "RUNNING": 0, "LOST": 2}
        pipes.append(PipelineInfo(name, View(), None, (), nodes, counts))
    return Snapshot(Path("/x"), 0.0, tuple(pipes), {}, version)


async def bench_tree() -> None:
    from textual.app import App, ComposeResult

    class TreeApp(App[None]):
        def compose(self) -> ComposeResult:
            yield NodeTree(id="tree")

    app = TreeApp()
    async with app.run_test(size=(120, 50)) as pilot:
        tree = app.query_one(NodeTree)
        snap = fake_snapshot(2000, 0)
        t = time.perf_counter()
        tree.update_from(snap)
        await pilot.pause()
        print(f"tree of 2,000 nodes: first build + paint {time.perf_counter() - t:.3f} s")
        snap2 = fake_snapshot(2000, 1)
        t = time.perf_counter()
        tree.update_from(snap2)
        await pilot.pause()
        print(
            "tree of 2,000 nodes: in-place update (every label changed) "
            f"{time.perf_counter() - t:.3f} s"
        )
        t = time.perf_counter()
        tree.update_from(snap2)
        await pilot.pause()
        print(f"tree of 2,000 nodes: refresh with nothing changed {time.perf_counter() - t:.3f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        t = time.perf_counter()
        build_root(root, time.time() - 3600)
        print(f"(fixture: {N:,} packets written in {time.perf_counter() - t:.1f} s)")
        asyncio.run(bench_open(root))
        asyncio.run(bench_stream(root))
    asyncio.run(bench_tree())


if __name__ == "__main__":
    main()
