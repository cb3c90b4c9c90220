"""Incremental update: after a cold load, one new file (or Delta commit) of 10 events folded in.

Run: ``.venv/bin/python benchmarks/bench_incremental.py``. Target: ≤ 20 ms, the same at 20 k and
at 2 M events of history, and at 10,000 commits of Delta history. orcapod's reader can only re-read
everything: its time for the same update is printed as a ratio.

Measured is ``Monitor.refresh(only={table}, rediscover=False)`` — what the monitor does when the
change feed names a table — from the write being visible to the model holding the new state;
a full rescan of the root (``rediscover=True``, what a poll without a feed does) is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa

from benchmarks._gen import (
    delta_table_fast,
    node_events,
    parquet_root,
    table_path,
    write_file,
)
from orcatui.model.monitor import Monitor


def ten_events(i: int) -> pa.Table:
    """10 new events (5 packets × RUNNING/SUCCESS) in a fresh run, so each is a state change."""
    # two days after the history (a day before now), one second apart
    return node_events(0, 5, run=f"inc{i}", offset_us=2 * 86_400 * 10**6 + i * 10**6)


def measure(root: Path, table: Path, append, repeat: int) -> tuple[float, float, float]:
    """(cold load s, median incremental ms with the table named, median ms with a full rescan)."""
    m = Monitor(root)
    t = time.perf_counter()
    m.refresh()
    m.snapshot()
    cold = time.perf_counter() - t
    targeted, rescans = [], []
    for i in range(repeat):
        append(table, ten_events(2 * i))
        t = time.perf_counter()
        m.refresh(only={table}, rediscover=False)
        targeted.append((time.perf_counter() - t) * 1000)
        append(table, ten_events(2 * i + 1))
        t = time.perf_counter()
        m.refresh()
        rescans.append((time.perf_counter() - t) * 1000)
    return cold, statistics.median(targeted), statistics.median(rescans)


def delta_append(table: Path, events: pa.Table) -> None:
    """One Delta commit (as an observer's Delta sink writes)."""
    from deltalake import write_deltalake

    write_deltalake(
        str(table), events.append_column("__record_id", events.column("_status_id")), mode="append"
    )


def orcapod_reread(root: Path) -> float | None:
    """orcapod's ``ObservabilityReader(root).status()`` — a full re-read — in ms, if installed."""
    try:
        from orcapod.pipeline.observability_reader import ObservabilityReader
    except ImportError:
        return None
    t = time.perf_counter()
    ObservabilityReader(str(root)).status()
    return (time.perf_counter() - t) * 1000


def main() -> None:
    """Build each history, then time 10-event updates."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--commits", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, nodes, packets in (("20 k", 200, 50), ("2 M", 200, 5000)):
            root = Path(tmp, f"p{packets}")
            parquet_root(root, nodes, packets)
            table = table_path(root, 0)
            cold, inc, rescan = measure(root, table, write_file, args.repeat)
            print(
                f"Parquet, {label} events of history (cold load {cold:.2f} s): one new file of "
                f"10 events → {inc:.1f} ms (target ≤ 20 ms); with a full rescan {rescan:.1f} ms"
            )
        root = Path(tmp, "delta")
        table = table_path(root, 0)
        t = time.perf_counter()
        delta_table_fast(table, args.commits)
        took = time.perf_counter() - t
        print(f"(generated a Delta table of {args.commits:,} commits in {took:.0f} s)")
        cold, inc, rescan = measure(root, table, delta_append, args.repeat)
        print(
            f"Delta, {args.commits:,} commits of history (cold load {cold:.2f} s): "
            f"one new commit of 10 events → {inc:.1f} ms (target ≤ 20 ms); "
            f"with a full rescan {rescan:.1f} ms"
        )
        theirs = orcapod_reread(root)
        if theirs is None:
            print("orcapod not installed: no comparison (pip install -e '.[orcapod]')")
        else:
            print(
                f"orcapod ObservabilityReader re-read of the same table: {theirs:.0f} ms "
                f"→ orcatui's update is {theirs / inc:.0f}× faster"
            )


if __name__ == "__main__":
    main()
