"""Across runs (issue 11) as a user meets it: the grid and the diff in the real app, and
``orcatui summary --diff --json`` as a whole process.

Run: ``.venv/bin/python benchmarks/bench_grid_app.py`` (``--quick``: 40 runs in the grid root).

Data (real Parquet status tables in the orcapod layout, written by ``bench_runs``' generators:
fractional ISO timestamps, 16-byte binary UUIDv7 ids on even nodes and 36-char UUID strings on
odd ones, realistic error text, two tags):

- grid root: 200 runs × 100 nodes × 100 packets (2 M packets, 4 M events); the newest run
  reached half the nodes. Budgets: grid ready ≤ 500 ms after the model is loaded; cursor move
  ≤ 50 ms.
- diff root: 2 runs × 10 nodes × 10,000 packets with ~44,000 changed packets (20 % regressed,
  10 % fixed, 2 % new, 2 % missing, ~10 % slower). Budgets: the diff ≤ 300 ms in-process;
  ``summary --diff --json`` ≤ 2 s as a whole process.

Every figure is printed as wall time AND CPU time (user + system of this process, or of the
child process for the whole-process figure): the machine may be shared, so wall time is an
upper bound. In-process figures are medians of 5; app figures are driven by Textual's pilot on
the real app (``OrcaApp``), key press → the screen painted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._bytecode import compile_tree
from benchmarks._gen import table_path, write_file
from benchmarks.bench_runs import _events, _run_ids, grid_root
from orcatui.app.diff_view import DiffScreen
from orcatui.app.grid import GridScreen, GridView, compute_grid
from orcatui.app.main import OrcaApp
from orcatui.model.diff import diff_runs
from orcatui.model.grid import GridBuilder, pipeline_inputs
from orcatui.model.monitor import Monitor

REPO = Path(__file__).resolve().parents[1]


def diff_root(root: Path, nodes: int = 10, packets: int = 10_000) -> int:
    """Two runs with ~44 % of the packets changed (see the module docstring)."""
    rng = np.random.default_rng(4)
    now_us = int(time.time() * 1e6)
    ids = _run_ids(2)
    starts = [now_us - 5 * 3600 * 1_000_000, now_us - 3 * 3600 * 1_000_000]
    total = 0
    for node in range(nodes):
        roll = rng.random(packets)
        older = np.full(packets, "SUCCESS", dtype=object)
        newer = older.copy()
        newer[roll < 0.20] = "FAILED"  # regressed
        older[(roll >= 0.20) & (roll < 0.30)] = "FAILED"  # fixed
        older[(roll >= 0.30) & (roll < 0.32)] = ""  # new in the newer run
        newer[(roll >= 0.32) & (roll < 0.34)] = ""  # missing from it
        base = rng.gamma(2.0, 0.5, size=packets)
        durations = np.stack([base, base * rng.uniform(0.8, 1.25, size=packets)])
        durations[1, (roll >= 0.34) & (roll < 0.46)] *= 6  # slower when also ≥ 1 s more
        states = np.stack([older, newer]).astype(str)
        table = _events(node, ids, starts, packets, states, durations, rng)
        step = -(-table.num_rows // 4)
        for i in range(0, table.num_rows, step):
            write_file(table_path(root, node), table.slice(i, step))
        total += table.num_rows
    return total


def measure(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def show(label: str, wall: float, cpu: float, budget: float | None = None) -> None:
    """One figure: wall and CPU in ms, and wall / budget."""
    ratio = f"  wall = {wall / budget:.2f}× the {budget * 1e3:.0f} ms budget" if budget else ""
    print(f"  {label:<52} wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:8.1f} ms{ratio}")


async def _idle(app: OrcaApp, pilot: object) -> None:
    for _ in range(12_000):
        if app.idle:
            break
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    await pilot.pause(0.1)  # type: ignore[attr-defined]


async def _timed(pilot: object, key: str, done: Callable[[], bool]) -> tuple[float, float]:
    """Key press → ``done()`` → one more repaint: (wall, cpu) seconds."""
    w, c = time.perf_counter(), time.process_time()
    await pilot.press(key)  # type: ignore[attr-defined]
    while not done():
        await asyncio.sleep(0.001)
    await pilot.pause()  # type: ignore[attr-defined]
    return time.perf_counter() - w, time.process_time() - c


async def grid_in_app(root: Path) -> None:
    """``H`` → grid painted, cursor moves, ``d`` → diff screen, in the real app."""
    app = OrcaApp(root, static=True, tick=None)
    async with app.run_test(size=(160, 48)) as pilot:
        w, c = time.perf_counter(), time.process_time()
        await _idle(app, pilot)
        show("app cold load (context only)", time.perf_counter() - w, time.process_time() - c)
        screen_grid = lambda: isinstance(app.screen, GridScreen)  # noqa: E731

        def ready() -> bool:
            return screen_grid() and app.screen.query_one(GridView).data is not None

        wall, cpu = await _timed(pilot, "H", ready)
        show("H → grid ready and painted", wall, cpu, 0.5)
        view = app.screen.query_one(GridView)
        moves = []
        for key in ["right"] * 10 + ["down"] * 10 + ["left"] * 5 + ["up"] * 5:
            before = (view.row, view.col)
            moves.append(await _timed(pilot, key, lambda b=before: (view.row, view.col) != b))
        show(
            f"cursor move + info line (median of {len(moves)})",
            statistics.median(m[0] for m in moves),
            statistics.median(m[1] for m in moves),
            0.05,
        )
        # The pilot's own floor: press() and pause() wait for the process to look idle (several
        # sleeps of Textual's wait granularity), whatever the key does. A key bound to nothing
        # measures it; the move's own cost is the difference.
        floor = [await _timed(pilot, "f12", lambda: True) for _ in range(30)]
        floor_wall = statistics.median(f[0] for f in floor)
        show(
            "pilot floor: a key bound to nothing (median of 30)",
            floor_wall,
            statistics.median(f[1] for f in floor),
        )
        show(
            "cursor move above the pilot floor",
            statistics.median(m[0] for m in moves) - floor_wall,
            statistics.median(m[1] for m in moves) - statistics.median(f[1] for f in floor),
            0.05,
        )
        await pilot.press("escape")
        await pilot.pause()


async def diff_in_app(root: Path) -> None:
    """The default diff from the grid (``H`` then ``d``), in the real app."""
    app = OrcaApp(root, static=True, tick=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await _idle(app, pilot)
        await pilot.press("H")
        for _ in range(2000):
            if isinstance(app.screen, GridScreen) and app.screen.query_one(GridView).data:
                break
            await pilot.pause(0.01)

        def shown() -> bool:
            return isinstance(app.screen, DiffScreen) and app.screen.diff is not None

        wall, cpu = await _timed(pilot, "d", shown)
        assert isinstance(app.screen, DiffScreen) and app.screen.diff is not None
        n = sum(app.screen.diff.totals().values())
        show(f"d → diff screen painted ({n:,} changes, first 5,000 rows)", wall, cpu)


def bench_grid(root: Path, runs: int) -> None:
    """The grid: the model thread's part in-process, then the app."""
    t0 = time.perf_counter()
    events = grid_root(root, runs, 100, 100)
    print(f"grid root: {runs} runs × 100 nodes × 100 packets = {events:,} events")
    print(f"  (generated in {time.perf_counter() - t0:.1f} s)")
    m = Monitor(root)
    w, c = time.perf_counter(), time.process_time()
    m.refresh()
    show("model loaded (Monitor.refresh, context only)", *_since(w, c))
    (pipeline,) = m.pipelines
    now = time.time()
    wall, cpu, _ = measure(lambda: compute_grid(m, pipeline, now, GridBuilder(), None), 3)
    show("compute_grid cold (inputs, slow counts, every node)", wall, cpu, 0.5)
    builder = GridBuilder()
    data = compute_grid(m, pipeline, now, builder, None)
    assert data is not None
    wall, cpu, _ = measure(lambda: compute_grid(m, pipeline, now, builder, data.grid))
    show("compute_grid again (a live frame, nothing changed)", wall, cpu)
    asyncio.run(grid_in_app(root))


def _since(wall0: float, cpu0: float) -> tuple[float, float]:
    return time.perf_counter() - wall0, time.process_time() - cpu0


def bench_diff(root: Path) -> None:
    """A realistic diff in-process, in the app, and ``summary --diff --json`` as a process."""
    events = diff_root(root)
    print(f"diff root: 2 runs × 10 nodes × 10,000 packets = {events:,} events")
    m = Monitor(root)
    m.refresh()
    (pipeline,) = m.pipelines
    now = time.time()
    wall, cpu, inputs = measure(lambda: pipeline_inputs(m, pipeline, now), 3)
    show("inputs (verdicts, run infos, node tables)", wall, cpu)
    older, newer = inputs.runs[1], inputs.runs[0]
    wall, cpu, d = measure(lambda: diff_runs(inputs, older, newer))
    print(f"  changes: {d.totals()}")
    show(f"diff_runs ({sum(d.totals().values()):,} changes)", wall, cpu, 0.3)
    wall, cpu, _ = measure(lambda: d.to_json())
    show("the diff → JSON-able dict", wall, cpu)
    asyncio.run(diff_in_app(root))
    cmd = [sys.executable, "-m", "orcatui", "summary", str(root), "--diff", "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    walls, cpus = [], []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, env=env, check=False)
        walls.append(time.perf_counter() - w)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if out.returncode not in (0, 1):
            raise SystemExit(out.stderr.decode())
    show(
        f"orcatui summary --diff --json, whole process ({len(out.stdout):,} bytes, exit "
        f"{out.returncode})",
        statistics.median(walls),
        statistics.median(cpus),
        2.0,
    )


def main() -> None:
    """Generate the roots in a temporary directory and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller grid root (40 runs)")
    ap.add_argument("--skip-grid", action="store_true", help="only the diff figures")
    args = ap.parse_args()
    compile_tree(Path(__file__).resolve().parents[1])  # bytecode as a pip install leaves it
    with tempfile.TemporaryDirectory(prefix="bench_grid_app_") as tmp:
        if not args.skip_grid:
            bench_grid(Path(tmp) / "grid", 40 if args.quick else 200)
        bench_diff(Path(tmp) / "diff")


if __name__ == "__main__":
    main()
