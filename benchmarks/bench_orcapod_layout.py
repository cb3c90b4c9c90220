"""orcapod's layout: 20 Delta tables × 500 one-event commits → cold load, orcatui vs orcapod.

Run: ``.venv/bin/python benchmarks/bench_orcapod_layout.py`` (needs the ``orcapod`` extra for the
comparison). Prints orcatui's cold load (model ready) and orcapod 0.1.4's own
``ObservabilityReader(root).status()`` on the same data, in one run, and the ratio (target ≥ 5×).
Each measurement is a fresh process (no warm caches of either library's objects). The store is
written with real delta-rs appends (slow: minutes) and kept in ``benchmarks/_data/`` for reruns.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._gen import delta_root_orcapod_style

DATA = Path(__file__).resolve().parent / "_data"

_OURS = """
import json, sys, time
from pathlib import Path
# pyarrow imports pandas (when installed) on its first Python-to-Arrow conversion: ~0.2 s that
# belongs to start-up, not to reading. Import it before the clock starts, like the other imports.
try:
    import pandas
except ImportError:
    pass
import deltalake  # orcapod's reader has it imported before its clock starts too
from orcatui.model.monitor import Monitor
t = time.perf_counter()
m = Monitor(Path(sys.argv[1])); m.refresh(); snap = m.snapshot()
n = sum(sum(x.counts.values()) for p in snap.pipelines for x in p.nodes)
print(json.dumps({"s": time.perf_counter() - t, "packets": n}))
"""
_THEIRS = """
import json, sys, time
t = time.perf_counter()
from orcapod.pipeline.observability_reader import ObservabilityReader
t = time.perf_counter()
df = ObservabilityReader(sys.argv[1]).status()
print(json.dumps({"s": time.perf_counter() - t, "rows": df.height}))
"""


def timed(code: str, root: Path, repeat: int) -> tuple[float, dict]:
    """Median seconds over ``repeat`` fresh processes, and the last result."""
    times, last = [], {}
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code, str(root)], capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(out.stderr.strip().splitlines()[-1])
        last = json.loads(out.stdout)
        times.append(last["s"])
    return statistics.median(times), last


def main() -> None:
    """Generate the store, time both readers, print the ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tables", type=int, default=20)
    ap.add_argument("--commits", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = DATA / f"orcapod_layout_{args.tables}x{args.commits}"
    events = args.tables * args.commits
    if not (root / "complete").exists():
        t = time.perf_counter()
        shutil.rmtree(root, ignore_errors=True)
        delta_root_orcapod_style(root, args.tables, args.commits)
        (root / "complete").write_text("")
        took = time.perf_counter() - t
        print(f"generated {args.tables} Delta tables × {args.commits} commits in {took:.0f} s")
    ours, r = timed(_OURS, root, args.repeat)
    print(f"orcatui cold load: {ours * 1000:.0f} ms ({events:,} events, {r['packets']:,} packets)")
    try:
        theirs, r2 = timed(_THEIRS, root, args.repeat)
    except SystemExit as exc:
        print(f"orcapod ObservabilityReader: not measured ({exc})")
        return
    print(
        f"orcapod 0.1.4 ObservabilityReader(root).status(): {theirs * 1000:.0f} ms "
        f"({r2['rows']:,} rows)"
    )
    print(f"ratio: orcatui is {theirs / ours:.1f}× faster (target ≥ 5×)")


if __name__ == "__main__":
    main()
