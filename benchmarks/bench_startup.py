"""Start-up: ``orcatui summary`` on a four-table store, whole process (target <= 0.25 s).

Prints the median wall time of N runs of: ``python -c pass`` (the interpreter), ``python -c
"import pyarrow"`` (the floor any Arrow reader pays), ``orcatui summary`` from this tree, and,
with ``--compare DIR``, from another checkout (e.g. the main branch before this change); and
the ratio against the issue's old figure (0.34–0.45 s). Also lists the slowest imports
(``python -X importtime``) and checks that neither pandas, textual, rich nor deltalake
is imported. orcatui's bytecode is compiled first, as a pip install or a first run leaves it
(``benchmarks/_bytecode.py``).
Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeat 21] [--compare DIR]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLD_FIGURE = (0.34, 0.45)


def make_store(root: Path) -> None:
    """Four Parquet status tables of 100 packets each (orcapod-shaped rows, fractional times)."""
    sys.path.insert(0, str(REPO / "tests"))
    from support.events import T0, packet, write_status

    for node in range(4):
        rows = [
            r
            for i in range(100)
            for r in packet("r1", T0 + i + 0.123456, T0 + i + 1.5, "SUCCESS", subject=f"s{i}")
        ]
        write_status(root, "etl", (f"fn_{node}", "v0"), rows)


def median_time(cmd: list[str], repeat: int, env: dict[str, str]) -> float:
    """Median wall time of ``repeat`` runs of a whole process (after one warm-up run)."""
    return median_times(cmd, repeat, env)[0]


def median_times(cmd: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """Median (wall, CPU = user + sys) of ``repeat`` runs of a whole process (after a warm-up);
    CPU is what a shared machine disturbs least."""
    subprocess.run(cmd, capture_output=True, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    """Time the processes and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--compare", type=Path, help="another checkout to time the same way")
    args = ap.parse_args()
    py = sys.executable
    sys.path.insert(0, str(REPO))
    from benchmarks._bytecode import compile_tree

    for tree in (REPO, args.compare):
        if tree is not None:
            compile_tree(tree.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_store(root)

        def env_for(tree: Path) -> dict[str, str]:
            return {**os.environ, "PYTHONPATH": str(tree)}

        env = env_for(REPO)
        summary = [py, "-P", "-m", "orcatui", "summary", str(root)]  # -P: PYTHONPATH decides
        base, base_cpu = median_times([py, "-c", "pass"], args.repeat, env)
        arrow, arrow_cpu = median_times([py, "-c", "import pyarrow"], args.repeat, env)
        ours, ours_cpu = median_times(summary, args.repeat, env)
        print(f"median of {args.repeat} runs, whole process; load average {os.getloadavg()[0]:.1f}")
        print(f"  python -c pass              {base:6.3f} s (CPU {base_cpu:.3f} s)")
        print(f"  python -c 'import pyarrow'  {arrow:6.3f} s (CPU {arrow_cpu:.3f} s)")
        print(
            f"  orcatui summary (4 tables)  {ours:6.3f} s (CPU {ours_cpu:.3f} s) = "
            f"{ours / base:.1f}x python, {ours / arrow:.2f}x pyarrow's import; "
            f"{ours / OLD_FIGURE[1]:.2f}–{ours / OLD_FIGURE[0]:.2f}x the old 0.34–0.45 s; "
            f"target <= 0.25 s: {'met' if ours <= 0.25 else 'NOT met'}"
        )
        if args.compare:
            other, other_cpu = median_times(summary, args.repeat, env_for(args.compare.resolve()))
            print(
                f"  same, from {args.compare}  {other:6.3f} s (CPU {other_cpu:.3f} s)  "
                f"(this tree: wall {ours / other:.2f}x, CPU {ours_cpu / other_cpu:.2f}x)"
            )
        code = (
            f"import sys; from orcatui.cli import main; main(['summary', {str(root)!r}]); "
            "print('HEAVY:', *[m for m in ('pandas', 'textual', 'rich', 'deltalake') "
            "if m in sys.modules])"
        )
        out = subprocess.run([py, "-c", code], capture_output=True, text=True, env=env)
        heavy = [ln for ln in out.stdout.splitlines() if ln.startswith("HEAVY:")]
        names = heavy[-1].split()[1:] if heavy else ["?"]
        print(f"  heavy modules imported by summary: {', '.join(names) or 'none'}")
        imp = subprocess.run(
            [py, "-X", "importtime", *summary[1:]], capture_output=True, text=True, env=env
        )
        rows = []
        for line in imp.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                rows.append((int(parts[1]), parts[2].rstrip()))
        print("  slowest imports (cumulative µs):")
        for us, name in sorted(rows, reverse=True)[:8]:
            print(f"    {us:8d} {name}")


if __name__ == "__main__":
    main()
