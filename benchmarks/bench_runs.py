"""Across runs (issue 11): the runs × nodes grid, a cursor move, a run-to-run diff, flaky keys.

Run: ``.venv/bin/python benchmarks/bench_runs.py`` (``--quick`` for a smaller root).

Data, written as real Parquet status tables in the orcapod layout (fractional ISO timestamps;
even nodes carry 16-byte binary UUIDv7 event ids, odd nodes 36-character UUID strings; realistic
error text; two tag columns):

- grid root: 200 runs × 100 nodes × 100 packets (2 M packets, 4 M events), one file per node and
  run-block. Budgets: grid ready ≤ 500 ms after the model is loaded; cursor move ≤ 50 ms.
- diff root: 2 runs × 10 nodes × 10,000 packets (100,000 packets a run) with regressions, fixes,
  new, missing and slower packets. Budget: diff ≤ 300 ms in-process.

Each figure is the median of a few repeats, quoted as a ratio of its budget (the baseline).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._gen import table_path, write_file
from orcatui.model.diff import diff_runs
from orcatui.model.grid import GridBuilder, pipeline_inputs
from orcatui.model.history import flaky_keys, packet_history
from orcatui.model.monitor import Monitor

RUN_SPACING_S = 3600
ERRORS = [
    "ValueError: séance corrompue ✗: {i} essais invalides (attendu ≥ 3)",
    "FileNotFoundError: [Errno 2] No such file or directory: '/data/raw/subj_{i}/eeg.edf'",
    "RuntimeError: CUDA out of memory. Tried to allocate {i}.00 MiB (GPU 0; 15.78 GiB total)",
]


def _iso(us: np.ndarray) -> pa.Array:
    ts = pa.array(us, pa.timestamp("us", tz="UTC"))
    return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S+00:00")  # %S keeps the µs fraction


def _ids(us: np.ndarray, binary: bool, rng: np.random.Generator) -> pa.Array:
    """UUIDv7-shaped ids: 48-bit ms timestamp, version 7, random rest."""
    n = len(us)
    raw = np.zeros((n, 16), np.uint8)
    ms = (us // 1000).astype(np.uint64)
    for k in range(6):
        raw[:, k] = (ms >> np.uint64(8 * (5 - k))) & np.uint64(0xFF)
    raw[:, 6:] = rng.integers(0, 256, size=(n, 10), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    if binary:
        return pa.array([bytes(r) for r in raw], pa.binary())
    return pa.array([str(uuid.UUID(bytes=bytes(r))) for r in raw], pa.string())


def _events(
    node: int,
    run_ids: list[str],
    run_starts_us: list[int],
    packets: int,
    states: np.ndarray,  # (runs, packets) of "SUCCESS", "FAILED", "CACHED", "RUNNING", ""
    durations_s: np.ndarray,  # (runs, packets)
    rng: np.random.Generator,
    subjects: np.ndarray | None = None,
) -> pa.Table:
    """RUNNING then the final event of each packet of each run; "" = packet not in that run."""
    runs = len(run_ids)
    idx = np.tile(np.arange(packets), runs)
    run = np.repeat(np.arange(runs), packets)
    present = states.reshape(-1) != ""
    idx, run = idx[present], run[present]
    final = states.reshape(-1)[present]
    dur = durations_s.reshape(-1)[present]
    start = np.array(run_starts_us, np.int64)[run] + node * 200_000 + idx * 1_000
    end = start + (dur * 1e6).astype(np.int64)
    done = final != "RUNNING"
    ts = np.concatenate([start, end[done]])
    state = np.concatenate([np.full(len(start), "RUNNING"), final[done]])
    which = np.concatenate([np.arange(len(start)), np.flatnonzero(done)])
    error = [
        ERRORS[(node + int(idx[k])) % 3].format(i=int(idx[k])) if s == "FAILED" else None
        for k, s in zip(which, state, strict=True)
    ]
    subj = (
        subjects
        if subjects is not None
        else np.char.add("subject-", np.arange(packets).astype(str))
    )
    return pa.table(
        {
            "_status_id": _ids(ts, node % 2 == 0, rng),
            "_status_run_id": pa.array(np.array(run_ids)[run[which]]),
            "_status_pipeline_uri": pa.array(["bench@0123456789abcdef"] * len(ts)),
            "_status_state": pa.array(state),
            "_status_timestamp": _iso(ts),
            "_status_error_summary": pa.array(error, pa.string()),
            "subject_id": pa.array(subj[idx[which]]),
            "session": pa.array((idx[which] % 7).astype(str)),
        }
    )


def _run_ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=(0x0193A1B27C4D7E8F << 64) | (i * 7919 + 1))) for i in range(n)]


def grid_root(root: Path, runs: int, nodes: int, packets: int) -> int:
    """``runs`` runs of ``nodes`` nodes × ``packets`` packets; the newest run reached half."""
    rng = np.random.default_rng(1)
    now_us = int(time.time() * 1e6)
    first = now_us - (runs + 2) * RUN_SPACING_S * 1_000_000
    ids = _run_ids(runs)
    starts = [first + r * RUN_SPACING_S * 1_000_000 for r in range(runs)]
    total = 0
    for node in range(nodes):
        states = np.full((runs, packets), "SUCCESS", dtype=object)
        roll = rng.random((runs, packets))
        states[roll < 0.03] = "FAILED"
        states[(roll >= 0.03) & (roll < 0.3)] = "CACHED"
        states[roll > 0.999] = "RUNNING"  # crashed runs: LOST
        if node >= nodes // 2:
            states[-1, :] = ""  # the newest run did not reach the second half of the nodes
        base = rng.gamma(2.0, 0.5, size=packets)  # a packet's typical duration
        durations = base[None, :] * rng.uniform(0.8, 1.25, size=(runs, packets))
        durations[states == "CACHED"] = 0.002
        table = _events(node, ids, starts, packets, states.astype(str), durations, rng)
        step = -(-table.num_rows // 4)
        for i in range(0, table.num_rows, step):
            write_file(table_path(root, node), table.slice(i, step))
        total += table.num_rows
    return total


def diff_root(root: Path, nodes: int, packets: int) -> int:
    """Two runs of ``nodes`` × ``packets``: 2 % regressed, 1 % fixed, 0.5 % new/missing, slower."""
    rng = np.random.default_rng(2)
    now_us = int(time.time() * 1e6)
    ids = _run_ids(2)
    starts = [now_us - 5 * 3600 * 1_000_000, now_us - 3 * 3600 * 1_000_000]
    total = 0
    for node in range(nodes):
        roll = rng.random(packets)
        older = np.where(roll < 0.01, "FAILED", "SUCCESS").astype(object)
        newer = older.copy()
        newer[(roll >= 0.01) & (roll < 0.03)] = "FAILED"  # regressed
        newer[roll < 0.005] = "SUCCESS"  # half of the failures fixed
        newer[(roll >= 0.2) & (roll < 0.5)] = "CACHED"
        older[(roll >= 0.995) & (roll < 0.9975)] = ""  # new in the newer run
        newer[roll >= 0.9975] = ""  # missing from it
        base = rng.gamma(2.0, 0.5, size=packets)
        durations = np.stack([base, base * rng.uniform(0.8, 1.25, size=packets)])
        durations[1, (roll >= 0.05) & (roll < 0.06)] *= 6  # slower (if also ≥ 1 s more)
        states = np.stack([older, newer]).astype(str)
        table = _events(node, ids, starts, packets, states, durations, rng)
        step = -(-table.num_rows // 4)
        for i in range(0, table.num_rows, step):
            write_file(table_path(root, node), table.slice(i, step))
        total += table.num_rows
    return total


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    """Median seconds of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def show(label: str, seconds: float, budget: float | None = None) -> None:
    """One figure, as ms and as a ratio of its budget."""
    ratio = f"  ({seconds / budget:.4f}× the {budget * 1e3:.0f} ms budget)" if budget else ""
    figure = f"{seconds * 1e3:9.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:9.1f} µs"
    print(f"  {label:<58} {figure}{ratio}")


def bench_grid(root: Path, runs: int, nodes: int, packets: int) -> None:
    """Grid build, warm rebuild, newest-column update, cell lookup, flaky keys, history."""
    t0 = time.perf_counter()
    events = grid_root(root, runs, nodes, packets)
    print(f"grid root: {runs} runs × {nodes} nodes × {packets} packets = {events:,} events")
    print(f"  (generated in {time.perf_counter() - t0:.1f} s)")
    m = Monitor(root)
    t0 = time.perf_counter()
    m.refresh()
    print(
        f"  model loaded (Monitor.refresh, context only)          {time.perf_counter() - t0:9.2f} s"
    )
    (pipeline,) = m.pipelines
    now = time.time()
    t_in, inputs = timed(lambda: pipeline_inputs(m, pipeline, now), 3)
    t_cold, grid = timed(lambda: GridBuilder().build(inputs), 3)
    builder = GridBuilder()
    builder.build(inputs)
    t_warm, _ = timed(lambda: builder.build(inputs), 5)
    show("inputs: verdicts + run_infos + node tables", t_in)
    show("grid build, cold (every node counted)", t_cold)
    show("grid ready after load (inputs + cold build)", t_in + t_cold, 0.5)
    show("grid rebuild, nothing changed (cache hits)", t_warm)
    assert grid.counts.shape == (nodes, runs, 6)
    assert (grid.worst[nodes // 2 :, 0] == -1).all()  # newest run did not reach these nodes

    # live: 50 more events of the newest run arrive in one node
    newest = inputs.runs[0]
    node0 = inputs.nodes[0]
    sample = node0.packets.filter(pc.equal(node0.packets.column("run_id"), newest)).slice(0, 50)
    us = time.time_ns() // 1000
    extra = pa.table(
        {
            "_status_id": _ids(np.full(50, us), True, np.random.default_rng(3)),
            "_status_run_id": pa.array([newest] * 50),
            "_status_pipeline_uri": pa.array(["bench@0123456789abcdef"] * 50),
            "_status_state": pa.array(["FAILED"] * 50),
            "_status_timestamp": _iso(np.full(50, us)),
            "_status_error_summary": pa.array([ERRORS[0].format(i=1)] * 50),
            "subject_id": sample.column("tag:subject_id"),
            "session": sample.column("tag:session"),
        }
    )
    write_file(table_path(root, 0), extra)
    m.refresh()
    after = pipeline_inputs(m, pipeline, time.time())
    t_new, updated = timed(lambda: builder.update_newest(grid, after), 5)
    show("newest-column update after 50 events in one node", t_new, 0.05)
    assert updated.cell(0, 0).counts["FAILED"] >= 50
    cells = [(i % nodes, (i * 7) % runs) for i in range(10_000)]
    t_cells, _ = timed(lambda: [updated.cell(i, j) for i, j in cells], 3)
    infos = {r.run_id: r for r in after.infos}
    show("cursor move: one cell + its run's info (mean of 10,000)", t_cells / len(cells), 0.05)
    assert infos[updated.runs[0]].run_id == newest

    t_flaky, found = timed(lambda: [flaky_keys(n, inputs.runs) for n in inputs.nodes], 3)
    show(f"flaky keys, all {nodes} nodes ({sum(len(f) for f in found)} flaky)", t_flaky)
    row = node0.packets.slice(0, 1).to_pylist()[0]
    tags = {k[4:]: v for k, v in row.items() if k.startswith("tag:")}
    t_hist, hist = timed(lambda: packet_history(node0, tags, inputs.runs, inputs.lost), 5)
    show(f"one packet's history over {len(hist.entries)} runs", t_hist)
    t_pair, _ = timed(lambda: diff_runs(inputs, inputs.runs[1], inputs.runs[0]), 3)
    show("diff of the two newest runs (100 × 100 packets)", t_pair, 0.3)


def bench_diff(root: Path, nodes: int, packets: int) -> None:
    """Diff of two runs of nodes × packets each."""
    events = diff_root(root, nodes, packets)
    print(f"diff root: 2 runs × {nodes} nodes × {packets:,} packets = {events:,} events")
    m = Monitor(root)
    m.refresh()
    (pipeline,) = m.pipelines
    now = time.time()
    t_in, inputs = timed(lambda: pipeline_inputs(m, pipeline, now), 3)
    older, newer = inputs.runs[1], inputs.runs[0]
    t_diff, d = timed(lambda: diff_runs(inputs, older, newer), 5)
    t_json, _ = timed(lambda: d.to_json(), 5)
    show("inputs: verdicts + run_infos + node tables", t_in)
    show(f"diff of {nodes * packets:,} vs {nodes * packets:,} packets", t_diff, 0.3)
    show("diff → JSON-able dict", t_json)
    print(f"  changes: {d.totals()}")
    t_all, _ = timed(lambda: diff_runs(inputs, newer, older), 3)
    show("diff reversed (fixed ↔ regressed)", t_all, 0.3)


_CHILD = """
import json, sys
from pathlib import Path
from orcatui.store.runtime import configure_process
configure_process()
from orcatui.model.monitor import Monitor
from orcatui.model.diff import choose_pair, diff_runs
from orcatui.model.grid import pipeline_inputs
m = Monitor(Path(sys.argv[1]))
m.refresh()
out = []
for p in sorted(m.pipelines):
    inputs = pipeline_inputs(m, p)
    pair = choose_pair(inputs)
    out.append({"name": list(p), "diff": diff_runs(inputs, *pair).to_json() if pair else None})
sys.stdout.write(json.dumps({"pipelines": out}))
"""


def bench_process(root: Path) -> None:
    """What ``summary --diff --json`` will cost as a whole process (load, default pair, JSON)."""
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(root)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        times.append(time.perf_counter() - t0)
        if out.returncode:
            raise SystemExit(out.stderr)
    size = len(out.stdout)
    show(
        f"whole process: load + default diff + JSON ({size:,} bytes)", statistics.median(times), 2.0
    )


def main() -> None:
    """Generate the roots in a temporary directory and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller grid root (40 runs)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_runs_") as tmp:
        bench_grid(Path(tmp) / "grid", 40 if args.quick else 200, 100, 100)
        bench_diff(Path(tmp) / "diff", 10, 10_000)
        bench_process(Path(tmp) / "diff")


if __name__ == "__main__":
    main()
