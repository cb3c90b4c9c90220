"""The report half of ``orcatui summary --json``: ``build_report`` and ``json.dumps``, after the
load.

Two roots, built once: issue 10's (``bench_triage.build``: 200 nodes, ~2 M events, 100,000 FAILED
packets in 20 error families, each with a traceback log row) and issue 9's
(``bench_summary.make_root``: 200 nodes, 2 M events, every 50th packet FAILED, 16-byte binary
ids). Each repetition is a fresh process (what ``summary`` pays is the first, cold call): it
loads a ``Monitor`` (not timed), then times ``build_report`` (wall and CPU) and ``json.dumps`` as
``cmd_summary`` calls it, and reports the SHA-1 of the JSON.

Then (``--whole N``, 3 unless told) the whole ``orcatui summary --json`` process on issue 10's
root, as ``bench_problems.py`` runs it (the issue's target: ≤ 2 s), wall and CPU time.

``--compare DIR`` runs another checkout (e.g. ``git worktree add /tmp/base main``) on the same
roots, interleaved, and checks that both write byte-identical JSON. Bytecode is compiled first
in each tree (``_bytecode.py``). Run: ``.venv/bin/python benchmarks/bench_report.py
[--repeat N] [--whole N] [--compare DIR] [--keep DIR]`` (``--keep``: the roots are built there
once and reused).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
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

    try:
        from orcatui.store.runtime import configure_process
    except ImportError:  # a --compare tree from before the module's rename
        from orcatui.store.allocator import configure_memory as configure_process

    configure_process()  # as the orcatui command does
    gc.disable()  # as cmd_summary
    _arrow_without_pandas()
    from orcatui.model import report as report_module
    from orcatui.model.monitor import Monitor
    from orcatui.model.report import build_report

    stale = 3600 if kind == "triage" else 300
    monitor = Monitor(root, clock=lambda: now, stale_after=stale)
    problems = monitor.refresh().problems
    # As cmd_summary writes compact JSON: the FAILED lists encoded by Arrow where the tree has
    # report_json (else json.dumps of the plain report, as before it).
    encoded = hasattr(report_module, "report_json")
    options = {"encoded": True} if encoded else {}
    wall, cpu = time.perf_counter(), time.process_time()
    report = build_report(
        monitor, run_id=None, all_runs=False, problems=problems, now=now, **options
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    dwall, dcpu = time.perf_counter(), time.process_time()
    if encoded:
        text = report_module.report_json(report)
    else:
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


def whole(tree: Path, root: Path) -> dict:
    """``orcatui summary ROOT --json --stale-after 1h`` as a user runs it (as
    ``bench_problems.py`` does): wall and CPU (user + system) of the process, its output's
    SHA-1 with ``generated_at`` (the clock) left out, its exit code."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # -P: not the current directory first on the path (it would win over PYTHONPATH).
    cmd = [sys.executable, "-P", "-m", "orcatui", "summary", str(root), "--json"]
    cmd += ["--stale-after", "1h"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    text = re.sub(rb'"generated_at":"[^"]*"', b"", r.stdout, count=1)
    return {"wall": wall, "cpu": cpu, "sha": hashlib.sha1(text).hexdigest(), "rc": r.returncode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", type=Path, help="another checkout, run interleaved")
    ap.add_argument("--keep", type=Path, help="build the roots here (and reuse them)")
    ap.add_argument(
        "--whole",
        type=int,
        default=3,
        help="times the whole `orcatui summary --json` process is run on issue 10's root "
        "(0: not run)",
    )
    args = ap.parse_args()
    trees = {"this tree": REPO}
    if args.compare:
        trees[str(args.compare)] = args.compare.resolve()
    sys.path.insert(0, str(REPO / "benchmarks"))  # here only: a child imports this module
    from _bytecode import compile_tree
    from _order import round_order

    for tree in trees.values():
        compile_tree(tree)  # bytecode as a pip install leaves it
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        roots = build_roots(base)
        print(
            f"build_report + JSON text after the load, cold (a fresh process each), median and "
            f"best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores"
        )
        for kind in ROOTS:
            root, now = roots[kind]
            got: dict[str, list[dict]] = {name: [] for name in trees}
            for round_index in range(args.repeat):
                for name, tree in round_order(list(trees.items()), round_index):
                    got[name].append(run(tree, root, kind, now))
            label = (
                "issue 10 root (100,000 FAILED, 20 families, tracebacks)"
                if kind == "triage"
                else "issue 9 root (every 50th packet FAILED)"
            )
            print(f"  {label}:")
            cpus = {}
            for name, figures in got.items():
                for f in figures:
                    f["twall"], f["tcpu"] = f["wall"] + f["dwall"], f["cpu"] + f["dcpu"]
                med = {
                    k: statistics.median(f[k] for f in figures) for k in figures[0] if k != "sha"
                }
                low = {k: min(f[k] for f in figures) for k in figures[0] if k != "sha"}
                cpus[name] = (med["tcpu"], low["tcpu"])
                print(
                    f"    {name}: build_report {med['wall'] * 1000:.0f} ms wall, "
                    f"{med['cpu'] * 1000:.0f} ms CPU; JSON text {med['dwall'] * 1000:.0f} ms "
                    f"wall, {med['dcpu'] * 1000:.0f} ms CPU; both {med['twall'] * 1000:.0f} ms "
                    f"wall, {med['tcpu'] * 1000:.0f} ms CPU (best {low['twall'] * 1000:.0f} / "
                    f"{low['tcpu'] * 1000:.0f}); sha1 {figures[0]['sha'][:12]}"
                )
            if args.compare:
                names = list(trees)
                shas = {f["sha"] for figures in got.values() for f in figures}
                (m0, b0), (m1, b1) = cpus[names[0]], cpus[names[1]]
                print(
                    f"    this tree / {names[1]}: CPU of both, median {m0 / m1:.2f}x, best "
                    f"{b0 / b1:.2f}x; JSON {'byte-identical' if len(shas) == 1 else 'DIFFERENT'}"
                )
        if args.whole:
            root, _ = roots["triage"]
            runs: dict[str, list[dict]] = {name: [] for name in trees}
            for round_index in range(args.whole):
                for name, tree in round_order(list(trees.items()), round_index):
                    runs[name].append(whole(tree, root))
            print(
                f"  orcatui summary --json, whole process, issue 10 root (target 2 s), median "
                f"and best of {args.whole}; load average {os.getloadavg()[0]:.1f}:"
            )
            for name, figures in runs.items():
                med = {k: statistics.median(f[k] for f in figures) for k in ("wall", "cpu")}
                low = {k: min(f[k] for f in figures) for k in ("wall", "cpu")}
                print(
                    f"    {name}: {med['wall']:.2f} s wall, {med['cpu']:.2f} s CPU (best "
                    f"{low['wall']:.2f} / {low['cpu']:.2f}); target / measured (best wall) = "
                    f"{2 / low['wall']:.2f}; exit {figures[0]['rc']}; sha1 "
                    f"{figures[0]['sha'][:12]} (generated_at left out)"
                )
            if args.compare:
                shas = {f["sha"] for figures in runs.values() for f in figures}
                names = list(trees)
                ratio = {
                    k: statistics.median(f[k] for f in runs[names[0]])
                    / statistics.median(f[k] for f in runs[names[1]])
                    for k in ("wall", "cpu")
                }
                print(
                    f"    this tree / {names[1]}: median wall {ratio['wall']:.2f}x, median CPU "
                    f"{ratio['cpu']:.2f}x; output "
                    f"{'byte-identical' if len(shas) == 1 else 'DIFFERENT'}"
                )


if __name__ == "__main__":
    main()
