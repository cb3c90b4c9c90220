"""The report half of ``orcatui summary --json``: ``build_report`` and ``json.dumps``, after the
load.

Two roots, built once: issue 10's (``bench_triage.build``: 200 nodes, ~2 M events, 100,000 FAILED
packets in 20 error families, each with a traceback log row) and issue 9's
(``bench_summary.make_root``: 200 nodes, 2 M events, every 50th packet FAILED, 16-byte binary
ids). Each repetition is a fresh process (what ``summary`` pays is the first, cold call): it
loads a ``Monitor`` (not timed), then times ``build_report`` (wall and CPU) and ``json.dumps`` as
``cmd_summary`` calls it, and reports the SHA-1 of the JSON.

``--compare DIR`` runs another checkout (e.g. ``git worktree add /tmp/base main``) on the same
roots, interleaved, and checks that both write byte-identical JSON. Run:
``.venv/bin/python benchmarks/bench_report.py [--repeat N] [--compare DIR] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("triage", "summary")


def child(root: Path, kind: str, now: float) -> None:
    """Load the root (not timed), time the report; print the figures as one JSON line."""
    import gc

    from orcatui.cli import _arrow_without_pandas
    from orcatui.store.allocator import configure_memory

    configure_memory()  # as the orcatui command does
    gc.disable()  # as cmd_summary
    _arrow_without_pandas()
    from orcatui.model.monitor import Monitor
    from orcatui.model.report import build_report

    stale = 3600 if kind == "triage" else 300
    monitor = Monitor(root, clock=lambda: now, stale_after=stale)
    problems = monitor.refresh().problems
    wall, cpu = time.perf_counter(), time.process_time()
    report = build_report(monitor, run_id=None, all_runs=False, problems=problems, now=now)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    dwall, dcpu = time.perf_counter(), time.process_time()
    text = json.dumps(report, separators=(",", ":"), ensure_ascii=False, check_circular=False)
    dwall, dcpu = time.perf_counter() - dwall, time.process_time() - dcpu
    sha = hashlib.sha1(text.encode()).hexdigest()
    print(json.dumps({"wall": wall, "cpu": cpu, "dwall": dwall, "dcpu": dcpu, "sha": sha}))


def build_roots(base: Path) -> dict[str, tuple[Path, float]]:
    """Both roots under ``base`` (reused when already there), with the clock each is read at."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_summary
    import bench_triage

    out = {}
    meta = base / "roots.json"
    if meta.exists():
        saved = json.loads(meta.read_text())
        return {k: (base / k, v) for k, v in saved.items()}
    bench_triage.T0 = time.time() - 450_000  # run B ends now-ish (see bench_problems)
    _, _, newest = bench_triage.build(base / "triage")
    out["triage"] = newest + 5
    bench_summary.make_root(base / "summary", 200, 5_000, strings=False)
    out["summary"] = float(int(time.time()))
    meta.write_text(json.dumps(out))
    return {k: (base / k, v) for k, v in out.items()}


def run(tree: Path, root: Path, kind: str, now: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); import bench_report; "
        f"bench_report.child(__import__('pathlib').Path({str(root)!r}), {kind!r}, {now!r})"
    )
    r = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, env=env, check=True)
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", type=Path, help="another checkout, run interleaved")
    ap.add_argument("--keep", type=Path, help="build the roots here (and reuse them)")
    args = ap.parse_args()
    trees = {"this tree": REPO}
    if args.compare:
        trees[str(args.compare)] = args.compare.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        roots = build_roots(base)
        print(
            f"build_report + json.dumps after the load, cold (a fresh process each), median and "
            f"best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores"
        )
        for kind in ROOTS:
            root, now = roots[kind]
            got: dict[str, list[dict]] = {name: [] for name in trees}
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    got[name].append(run(tree, root, kind, now))
            label = (
                "issue 10 root (100,000 FAILED, 20 families, tracebacks)"
                if kind == "triage"
                else "issue 9 root (every 50th packet FAILED)"
            )
            print(f"  {label}:")
            cpus = {}
            for name, figures in got.items():
                med = {k: statistics.median(f[k] for f in figures) for k in ("wall", "cpu")}
                low = {k: min(f[k] for f in figures) for k in ("wall", "cpu", "dwall", "dcpu")}
                cpus[name] = low["cpu"]
                print(
                    f"    {name}: build_report {med['wall'] * 1000:6.0f} ms wall, "
                    f"{med['cpu'] * 1000:6.0f} ms CPU (best {low['wall'] * 1000:.0f} / "
                    f"{low['cpu'] * 1000:.0f}); json.dumps {low['dwall'] * 1000:.0f} ms wall, "
                    f"{low['dcpu'] * 1000:.0f} ms CPU; sha1 {figures[0]['sha'][:12]}"
                )
            if args.compare:
                names = list(trees)
                shas = {f["sha"] for figures in got.values() for f in figures}
                print(
                    f"    this tree / {names[1]}: best CPU "
                    f"{cpus[names[0]] / cpus[names[1]]:.2f}x; JSON "
                    f"{'byte-identical' if len(shas) == 1 else 'DIFFERENT'}"
                )


if __name__ == "__main__":
    main()
