"""The app's time cursor on 2 M events (issue 13): entering history and stepping.

Run: ``.venv/bin/python benchmarks/bench_time_cursor.py [--root DIR] [--quick]``.
Data: 200 nodes × 5,000 packets × 2 events = 2 M events (``bench_cold_load``'s generator:
fractional ISO timestamps, 16-byte UUIDv7 ids, realistic errors), unless ``--root`` names an
existing root (used as is; steps around ``--at``, else from its newest event).

In one fresh process, as the app does it: the live load (``TimeTravelSource.read``), then the
first step back (entering history: the cursor is built here), then 20 steps (by event and by
minute, back and forth) each with the frame of one node. Each part prints wall time AND process
CPU time (user + sys; the machine is shared, so wall figures are upper bounds), and the peak RSS
after the live load and after entering history. Target: a step ≤ 100 ms on 2 M events.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._bytecode import compile_tree
from benchmarks._gen import T0_US, parquet_root

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from orcatui.store.runtime import configure_process
configure_process()
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def mark():
    return time.perf_counter(), cpu()
def since(m):
    return time.perf_counter() - m[0], cpu() - m[1]
root = Path(sys.argv[1]); at = float(sys.argv[2])
from orcatui.app.refresher import ReadRequest, ViewState
from orcatui.app.time_cursor import TimeTravelSource
from orcatui.model.monitor import Monitor
m0 = mark()
source = TimeTravelSource(lambda: Monitor(root), time.time)
source.read(ReadRequest(rediscover=True))
first = source.frame(1, ViewState())
live = since(m0)
live_rss = rss()
p = first.snapshot.pipelines[0]
view = ViewState(pipeline=p.name, node=p.nodes[0].key)
m1 = mark()
source.move("event", -1)  # leaving live
source.frame(2, view)
enter = since(m1)
enter_rss = rss()
if at > 0:
    source.at = at  # step around the given moment (stepping past the newest event goes live)
steps = []
moves = [("event", -1), ("seconds", -60.0), ("event", 1), ("seconds", 60.0)] * 5
for i, (kind, amount) in enumerate(moves):
    s = mark()
    source.move(kind, amount)
    frame = source.frame(3 + i, view)
    steps.append(since(s))
walls = sorted(w for w, _ in steps)
cpus = sorted(c for _, c in steps)
print(json.dumps({"live": live, "live_rss": live_rss, "enter": enter, "enter_rss": enter_rss,
                  "step_wall": walls, "step_cpu": cpus}))
"""


_APP = """
import asyncio, json, resource, sys, time
from pathlib import Path
from orcatui.store.runtime import configure_process
configure_process()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
root = Path(sys.argv[1]); at = float(sys.argv[2])
from orcatui.app.main import OrcaApp
from orcatui.app.packet_table import PacketTable

async def run():
    app = OrcaApp(root, static=True)
    handed = []
    async with app.run_test(size=(120, 36)) as pilot:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            main = app.main
            if main is not None and main.frame is not None and main.state.node is not None:
                if main.query_one(PacketTable).row_count:
                    break
        else:
            raise RuntimeError("the app never showed a node's packets")
        main = app.main
        table = main.query_one(PacketTable)
        set_rows = table.set_rows

        def stamped(rows, **kw):
            handed.append(time.perf_counter())
            return set_rows(rows, **kw)

        table.set_rows = stamped

        async def shown(before_seq, t0):
            # the frame of the new moment applied and its rows handed to the table (then paint)
            while True:
                await pilot.pause(0.002)
                f = main.frame
                if f is None or f.seq <= before_seq:
                    continue
                if app.time_at is None or f.now == app.time_at:
                    late = [h for h in handed if h >= t0]
                    if late:
                        return late[-1]

        async def press(key):
            before = main.frame.seq
            was = app.time_at
            t0, c0 = time.perf_counter(), cpu()
            await pilot.press(key)
            while app.time_at == was and key != "L":
                await pilot.pause(0.002)
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"key {key!r} did not move the cursor")
            done = await shown(before, t0)
            return done - t0, cpu() - c0, was is None

        enter = await press("less_than_sign")  # leaving live: the cursor is built here
        if at > 0:  # then step around the given moment, as the model benchmark does
            def put():
                app.source.at = at
            await asyncio.wrap_future(app.refresher.ask(put))
            app.time_at = at
        steps, reentries = [], []
        keys = ["less_than_sign", "comma", "greater_than_sign", "full_stop"] * 5
        for key in keys:
            wall, c, from_live = await press(key)
            (reentries if from_live else steps).append((wall, c))
    return enter, steps, reentries

enter, steps, reentries = asyncio.run(run())
print(json.dumps({"enter": enter, "step_wall": sorted(w for w, _ in steps),
                  "step_cpu": sorted(c for _, c in steps),
                  "reenter_wall": sorted(w for w, _ in reentries)}))
"""


def main() -> None:
    """Generate (or take) the root, measure in a fresh process, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, help="an existing root (default: generate 2 M events)")
    ap.add_argument("--at", type=float, default=0.0, help="with --root: the moment (epoch s)")
    ap.add_argument("--quick", action="store_true", help="10× fewer packets")
    ap.add_argument("--no-app", action="store_true", help="skip the headless app's key steps")
    args = ap.parse_args()
    compile_tree(Path(__file__).resolve().parents[1])  # bytecode as a pip install leaves it
    packets = 500 if args.quick else 5000
    with tempfile.TemporaryDirectory() as tmp:
        if args.root is not None:
            root, at = args.root, args.at
        else:
            root = Path(tmp, "two_million")
            parquet_root(root, 200, packets)
            os.sync()
            at = (T0_US + packets * 10_000 // 2) / 1e6  # mid-run: half the packets started
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(root), str(at)],
            capture_output=True,
            text=True,
            env=env,
        )
        if out.returncode:
            raise SystemExit(out.stderr)
        r = json.loads(out.stdout)
        app = None
        if not args.no_app:
            out = subprocess.run(
                [sys.executable, "-c", _APP, str(root), str(at)],
                capture_output=True,
                text=True,
                env=env,
            )
            if out.returncode:
                raise SystemExit(out.stderr)
            app = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"root: {root if args.root else f'{200 * packets * 2:,} events, 200 Parquet files'}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    print(
        f"live load + first frame: wall {r['live'][0]:.2f} s, CPU {r['live'][1]:.2f} s, "
        f"peak RSS {r['live_rss']:.0f} MB"
    )
    print(
        f"entering history (first step back + frame): wall {r['enter'][0]:.2f} s, "
        f"CPU {r['enter'][1]:.2f} s, peak RSS after {r['enter_rss']:.0f} MB "
        f"(+{r['enter_rss'] - r['live_rss']:.0f} MB over live)"
    )
    walls, cpus = r["step_wall"], r["step_cpu"]
    print(
        f"step (move + frame of one node), 20 steps: wall median {walls[len(walls) // 2] * 1e3:.0f}"
        f" ms, max {walls[-1] * 1e3:.0f} ms; CPU median {cpus[len(cpus) // 2] * 1e3:.0f} ms, "
        f"max {cpus[-1] * 1e3:.0f} ms (target 100 ms: median {walls[len(walls) // 2] / 0.1:.2f}×,"
        f" max {walls[-1] / 0.1:.2f}×)"
    )
    if app is not None:
        walls, cpus, back = app["step_wall"], app["step_cpu"], app["reenter_wall"]
        print(
            f"the app (headless OrcaApp, 120×36): key → the new moment's rows handed to the "
            f"table, entering history {app['enter'][0] * 1e3:.0f} ms "
            f"(CPU {app['enter'][1] * 1e3:.0f} ms); {len(walls)} steps within history: wall "
            f"median {walls[len(walls) // 2] * 1e3:.0f} ms, max {walls[-1] * 1e3:.0f} ms; "
            f"process CPU median {cpus[len(cpus) // 2] * 1e3:.0f} ms, max "
            f"{cpus[-1] * 1e3:.0f} ms (target 100 ms: max {walls[-1] / 0.1:.2f}×); "
            f"{len(back)} steps back from live up to {max(back, default=0) * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
