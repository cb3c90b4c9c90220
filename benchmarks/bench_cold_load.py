"""Cold load: a generated root → the complete model (issue 2).

Run: ``.venv/bin/python benchmarks/bench_cold_load.py`` (add ``--quick`` for a smaller root,
``--compare DIR`` to time another checkout interleaved, e.g. main before a change).
Prints wall time, CPU time (threads and helper processes) and peak RSS of a fresh process per
case, for both id generations orcapod has written (16-byte binary UUIDv7 and 36-char UUID
strings), with fractional ISO timestamps.
orcatui's bytecode is compiled first, as a pip install leaves it (``benchmarks/_bytecode.py``).
Targets (2 cores): 200 nodes × 5,000 packets × 2 events (2 M events) in one file per node: ≤ 1 s
(either id kind) and ≤ 600 MB peak RSS; the same events in 20,000 files of 100 events: ≤ 3 s.
A third case, many small tables (200 nodes × 500 packets, one file each), has no target: it is
the shape read by helper processes for its tables' sake (``fork_read.worth_helpers``); time it
against a checkout from before with ``--files small --compare DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._bytecode import compile_tree  # noqa: E402 - after the path set-up
from benchmarks._gen import ID_KINDS, parquet_root  # noqa: E402
from benchmarks._order import round_order  # noqa: E402
from benchmarks._spread import spread  # noqa: E402

_CHILD = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
try:
    from orcatui.store.runtime import configure_process
except ImportError:  # a --compare tree from before the module's rename
    from orcatui.store.allocator import configure_memory as configure_process
configure_process()  # as the orcatui command does, before pyarrow is imported
# pyarrow imports pandas (when installed) on its first Python-to-Arrow conversion: ~0.2 s that
# belongs to start-up, not to reading. Import it before the clock starts, like the other imports.
try:
    import pandas
except ImportError:
    pass
from orcatui.model.monitor import Monitor
m = Monitor(Path(sys.argv[1]))
def used():
    # CPU seconds of all threads and of the helper processes a load of many files forks
    # (reaped by then): on a shared machine the wall time also counts waiting for a core
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
c1 = used()
s1 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
t1 = time.perf_counter()
m.refresh()
snap = m.snapshot()
t2 = time.perf_counter()
cpu = used() - c1
sys_s = resource.getrusage(resource.RUSAGE_SELF).ru_stime - s1
packets = sum(sum(n.counts.values()) for p in snap.pipelines for n in p.nodes)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {
    "import_s": t1 - t0, "load_s": t2 - t1, "cpu_s": cpu, "sys_s": sys_s, "rss_mb": rss,
    "packets": packets,
}
print(json.dumps(out))
"""


def measure(root: Path, repeat: int, trees: dict[str, Path] | None = None) -> dict[str, dict]:
    """Per source tree: median load time, CPU and system time, every run's load time and the
    largest peak RSS over ``repeat`` fresh processes (the trees' runs interleaved, so a busy
    machine weighs on each alike)."""
    trees = trees or {"this tree": REPO}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for round_index in range(repeat):
        for name, tree in round_order(list(trees.items()), round_index):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            # -P: the current directory is not put first on sys.path (PYTHONPATH picks the tree)
            cmd = [sys.executable, "-P", "-c", _CHILD, str(root)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode:
                raise SystemExit(out.stderr)
            results[name].append(json.loads(out.stdout))
    summary = {}
    for name, runs in results.items():
        loads = [r["load_s"] for r in runs]
        summary[name] = {
            **runs[0],
            "load_s": statistics.median(loads),
            "loads": loads,
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "sys_s": statistics.median(r["sys_s"] for r in runs),
            "rss_mb": max(r["rss_mb"] for r in runs),
        }
    return summary


def main() -> None:
    """Generate the roots, load each in fresh processes, print figures against targets."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10× fewer packets")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ids", choices=ID_KINDS, action="append", help="only these id kinds")
    ap.add_argument(
        "--files", choices=("few", "many", "small"), action="append", help="only these cases"
    )
    ap.add_argument("--compare", type=Path, help="another checkout, timed interleaved")
    args = ap.parse_args()
    for tree in (REPO, args.compare):
        if tree is not None:
            compile_tree(tree.resolve())
    packets = 500 if args.quick else 5000
    # (key, label, files per node, target s, packets per node)
    shapes = [
        ("few", "200 files (1 per node)", 1, 1.0, packets),
        ("many", "20,000 files of 100 events", 100, 3.0, packets),
        # many small tables: read by helper processes (fork_read.worth_helpers); no target
        ("small", "200 files of 1,000 events (1 per node)", 1, None, packets // 10),
    ]
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(wall times are comparable only on an idle machine; CPU times less affected)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            (f"{label}, {ids} ids", Path(tmp, f"{key}-{ids}"), per_node, target, ids, n)
            for key, label, per_node, target, n in shapes
            if not args.files or key in args.files
            for ids in ID_KINDS
            if not args.ids or ids in args.ids
        ]
        for label, root, files_per_node, target, ids, per_node in cases:
            t = time.perf_counter()
            events = parquet_root(root, 200, per_node, files_per_node, ids=ids)
            gen = time.perf_counter() - t
            os.sync()  # the generator's dirty pages are written back now, not during the timing
            trees = {"this tree": REPO}
            if args.compare:
                trees[str(args.compare)] = args.compare.resolve()
            results = measure(root, args.repeat, trees)
            r = results["this tree"]
            print(
                f"cold load, {events:,} events, {label}: {r['load_s']:.2f} s "
                f"({f'target ≤ {target:.0f} s; ' if target else ''}CPU {r['cpu_s']:.2f} s, "
                f"of it sys {r['sys_s']:.2f} s; {spread(r['loads'], target)}), "
                f"peak RSS {r['rss_mb']:.0f} MB"
                f"{' (target ≤ 600 MB)' if target == 1.0 else ''}; "
                f"{r['packets']:,} packets; import {r['import_s']:.2f} s; generated in {gen:.0f} s"
            )
            for name, o in results.items():
                if name != "this tree":
                    print(
                        f"    same, from {name}: {o['load_s']:.2f} s (CPU {o['cpu_s']:.2f} s); "
                        f"this tree: wall {r['load_s'] / o['load_s']:.2f}x, "
                        f"CPU {r['cpu_s'] / o['cpu_s']:.2f}x"
                    )


if __name__ == "__main__":
    main()
