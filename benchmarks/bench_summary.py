"""``orcatui summary --json`` on 2 M events / 200 nodes, whole process, against DuckDB.

Data shaped like orcapod's: fractional ISO timestamps (``2026-11-28T15:13:37.610238+00:00``),
one root with 16-byte binary UUIDv7 ids (orcapod 0.1.4) and one with 36-character UUID strings
(earlier releases), realistic multi-line error text, two user tags (``subject_id``, ``session``).
Every packet: RUNNING then SUCCESS, every 50th FAILED, a few left RUNNING (LOST: the run is over).

The DuckDB query answers the same counts (latest state per packet, per node and state) from the
same Parquet files. Run:
``.venv/bin/python benchmarks/bench_summary.py [--events N] [--repeat R] [--compare DIR]``
(orcatui's bytecode compiled first, as a pip install leaves it: ``benchmarks/_bytecode.py``.)
(``--compare``: another checkout, e.g. ``git worktree add /tmp/base main``, timed interleaved).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
# A day before now: events are believed only up to a day ahead of the reader's clock, and a run
# whose last event is a day old is over (its RUNNING packets LOST), as the benchmark wants.
T0_US = (int(time.time()) - 86_400) * 1_000_000
ERROR = (
    "ValueError: score out of range for subject-{i}: -3.2\n"
    "Traceback (most recent call last):\n"
    '  File "/srv/pipeline/steps/score.py", line 88, in compute_score\n'
    "    raise ValueError(msg)\n"
)


def _ids(n: int, seed: int, strings: bool) -> pa.Array:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    raw[:, 0] = (raw[:, 0] & ~np.int64(0xF000)) | np.int64(0x7000)  # a v7-looking version nibble
    data = raw.tobytes()
    if not strings:
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(16), n, [None, pa.py_buffer(data)]
        ).cast(pa.binary())
    hexes = np.frombuffer(data, dtype="S16").tolist()
    return pa.array([str(uuid.UUID(bytes=h.ljust(16, b"\0"))) for h in hexes], pa.string())


def _iso(us: np.ndarray) -> pa.Array:
    """orcapod's ``datetime.isoformat()``: ``2026-11-28T15:13:37.610238+00:00``.

    Formatted from whole seconds: Arrow's ``%S`` of a µs timestamp already holds the fraction.
    """
    ts = pa.array(us // 1_000_000, pa.timestamp("s", tz="UTC"))
    head = pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S")
    frac = pc.utf8_lpad(pc.cast(pa.array(us % 1_000_000), pa.string()), 6, "0")
    return pc.binary_join_element_wise(head, ".", frac, "+00:00", "")


def node_events(node: int, packets: int, strings: bool) -> pa.Table:
    """2 events per packet (RUNNING, then SUCCESS/FAILED; every 997th left RUNNING)."""
    idx = np.arange(packets)
    start = T0_US + node * 1_013 + idx * 10_007 + 123_456
    end = start + 5_000 + (idx % 13) * 1_001
    terminal = np.where(idx % 50 == 7, "FAILED", "SUCCESS")
    left_running = idx % 997 == 5
    keep = ~left_running
    n_term = int(keep.sum())
    n = packets + n_term
    errors = [ERROR.format(i=i) if i % 50 == 7 else None for i in idx[keep]]
    subjects = np.char.add("subject-", idx.astype(str))
    return pa.table(
        {
            "_status_id": _ids(n, node, strings),
            "_status_run_id": pa.array(["0192f1c2-7a31-7bbb-8ccc-0123456789ab"] * n),
            "_status_pipeline_uri": pa.array(["bench@4869087dfd46ce42"] * n),
            "_status_state": pa.array(
                np.concatenate([np.full(packets, "RUNNING"), terminal[keep]])
            ),
            "_status_timestamp": _iso(np.concatenate([start, end[keep]])),
            "_status_error_summary": pa.array([None] * packets + errors, pa.string()),
            "subject_id": pa.array(np.concatenate([subjects, subjects[keep]])),
            "session": pa.array(np.concatenate([idx % 7, idx[keep] % 7]).astype(str)),
        }
    )


def make_root(root: Path, nodes: int, packets: int, strings: bool) -> int:
    """The benchmark root; returns the number of events written."""
    total = 0
    for node in range(nodes):
        d = (
            root
            / "bench"
            / "_status"
            / f"fn_{node:04d}"
            / "semantic_v0.1:ab12"
            / "v0"
            / "python.function.v0"
            / f"schema:semantic_v0.1:{node:064x}"
            / "execution_status"
        )
        d.mkdir(parents=True)
        t = node_events(node, packets, strings)
        pq.write_table(t, d / f"part-{node:05d}.parquet")
        total += t.num_rows
    return total


def time_process(cmd: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of a whole process."""
    return time_processes({"": (cmd, env)}, repeat)[""].wall


@dataclass(frozen=True)
class Timing:
    """One case's whole-process runs: medians of wall, CPU (user + sys) and sys seconds, and
    every run's wall time (for :func:`benchmarks._spread.spread`)."""

    wall: float
    cpu: float
    sys: float
    walls: list[float]


def time_processes(
    cases: dict[str, tuple[list[str], dict[str, str] | None]], repeat: int
) -> dict[str, Timing]:
    """Each case's whole process timed ``repeat`` times, the cases run interleaved (round after
    round, every other round backwards: :mod:`benchmarks._order`), so a busy machine weighs on
    all of them alike."""
    from benchmarks._order import round_order

    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    syss: dict[str, list[float]] = {k: [] for k in cases}
    for round_index in range(repeat):
        for key, (cmd, env) in round_order(list(cases.items()), round_index):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, env=env)
            walls[key].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            sys_s = after.ru_stime - before.ru_stime
            cpus[key].append(after.ru_utime - before.ru_utime + sys_s)
            syss[key].append(sys_s)
            if r.returncode not in (0, 1, 3, 4):
                raise SystemExit(f"{cmd[:4]} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    med = statistics.median
    return {k: Timing(med(walls[k]), med(cpus[k]), med(syss[k]), walls[k]) for k in cases}


DUCKDB_QUERY = """
SELECT node, state, count(*) AS n FROM (
  SELECT regexp_extract(filename, '_status/(fn_[0-9]+)/', 1) AS node,
         arg_max(_status_state, _status_timestamp) AS state
  FROM read_parquet('{glob}', filename=true)
  GROUP BY node, _status_run_id, subject_id, session
) GROUP BY node, state
"""


def duckdb_counts(root: Path) -> dict[tuple[str, str], int]:
    """The same counts as the summary (latest state per packet), answered by DuckDB."""
    import duckdb

    glob = f"{root}/**/execution_status/*.parquet"
    con = duckdb.connect()
    rows = con.execute(DUCKDB_QUERY.format(glob=glob)).fetchall()
    return {(node, state): n for node, state, n in rows}


def check_same_counts(report: dict, duck: dict[tuple[str, str], int]) -> None:
    """The summary's counts agree with DuckDB's (RUNNING there = RUNNING + LOST here)."""
    for node in report["pipelines"][0]["nodes"]:
        c = node["counts"]
        for state in ("SUCCESS", "FAILED"):
            assert c[state] == duck.get((node["name"], state), 0), (node["name"], state)
        assert c["RUNNING"] + c["LOST"] == duck.get((node["name"], "RUNNING"), 0)


def main() -> None:
    """Build both roots, time ``orcatui summary --json`` and DuckDB, print ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", type=float, default=4.0, help="the issue's figure (s)")
    ap.add_argument(
        "--compare",
        type=Path,
        help="another checkout (e.g. main before this change), run interleaved",
    )
    args = ap.parse_args()
    packets = args.events // args.nodes // 2
    sys.path.insert(0, str(REPO))
    from benchmarks._bytecode import compile_tree
    from benchmarks._spread import spread

    for tree in (REPO, args.compare):
        if tree is not None:
            compile_tree(tree.resolve())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # -P: the current directory is not put first on sys.path, so PYTHONPATH picks the tree timed.
    cli = [sys.executable, "-P", "-m", "orcatui", "summary"]
    print(
        f"orcatui summary --json, {args.nodes} nodes, ~{args.events:,} events, "
        f"median of {args.repeat} whole-process runs, interleaved; wall and CPU (user + sys); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for strings in (False, True):
        kind = "36-char string ids" if strings else "16-byte binary ids"
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            n = make_root(root, args.nodes, packets, strings)
            report = json.loads(
                subprocess.run(
                    [*cli, str(root), "--json"], capture_output=True, env=env, check=False
                ).stdout
            )
            duck_code = (
                f"import sys; sys.path.insert(0, {str(REPO)!r}); "
                "from benchmarks.bench_summary import duckdb_counts; "
                f"duckdb_counts(__import__('pathlib').Path({str(root)!r}))"
            )
            check_same_counts(report, duckdb_counts(root))
            cases = {
                "ours": ([*cli, str(root), "--json"], env),
                "pretty": ([*cli, str(root), "--json", "--pretty"], env),
                "duck": ([sys.executable, "-c", duck_code], None),
            }
            if args.compare:
                other = {**os.environ, "PYTHONPATH": str(args.compare.resolve())}
                cases["compare"] = ([*cli, str(root), "--json"], other)
            got = time_processes(cases, args.repeat)
            ours, duck = got["ours"], got["duck"]
            print(f"  {kind}: {n:,} events")
            print(
                f"    orcatui summary --json          {ours.wall:6.2f} s (CPU {ours.cpu:5.2f} s, "
                f"of it sys {ours.sys:4.2f} s)  ({ours.wall / args.baseline:.2f}x the "
                f"{args.baseline:.1f} s baseline; target <= 1.5 s: "
                f"{'met' if ours.wall <= 1.5 else 'NOT met'} by the median)"
            )
            print(f"      {spread(ours.walls, 1.5)}")
            pretty = got["pretty"]
            print(
                f"    orcatui summary --json --pretty {pretty.wall:6.2f} s "
                f"(CPU {pretty.cpu:5.2f} s)"
            )
            if args.compare:
                base = got["compare"]
                print(
                    f"    same, from {args.compare}  {base.wall:6.2f} s (CPU {base.cpu:5.2f} s)  "
                    f"(this tree: wall {ours.wall / base.wall:.2f}x, "
                    f"CPU {ours.cpu / base.cpu:.2f}x)"
                )
            print(
                f"    duckdb (same counts)            {duck.wall:6.2f} s (CPU {duck.cpu:5.2f} s)  "
                f"(orcatui / duckdb = {ours.wall / duck.wall:.2f}x)"
            )


if __name__ == "__main__":
    main()
