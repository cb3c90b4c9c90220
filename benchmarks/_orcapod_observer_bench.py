"""Helper for bench_observers.py: time orcapod 0.1.4's own StatusObserver (Delta database).

Run as ``python _orcapod_observer_bench.py ROOT N``; prints the events/s it reached.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    """Write N events through orcapod's StatusObserver and print events/s."""
    from orcapod.databases import DeltaTableDatabase
    from orcapod.pipeline.status_observer import StatusObserver

    root, n = sys.argv[1], int(sys.argv[2])
    db = DeltaTableDatabase(root)
    obs = StatusObserver(status_database=db.at("bench", "_status"))
    obs.on_run_start("run1", pipeline_uri="bench@0")
    node = obs.contextualize("work", "v0")
    node.on_node_start("work", "h", tag_schema={"subject_id": str})
    t0 = time.perf_counter()
    for i in range(n):
        node.on_data_start("work", {"subject_id": f"s{i}"}, None)
    elapsed = time.perf_counter() - t0
    print(f"{n / elapsed:.3f}")


if __name__ == "__main__":
    main()
