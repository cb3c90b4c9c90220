"""Four processes writing to one root at once: nothing lost, nothing duplicated."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.observers import read_tables

N = 3000
CHILD = r"""
import sys
import observers
root, sink, who = sys.argv[1], sys.argv[2], sys.argv[3]
with observers.run(root, pipeline="shared", sink=sink, flush_interval=0.05) as run:
    with run.node("work") as node:
        for i in range(int(sys.argv[4])):
            node._obs.on_data_start("work", {"who": who, "i": i}, None)
            node._obs.on_data_end("work", {"who": who, "i": i}, None, None, False)
"""


@pytest.mark.parametrize(("sink", "count"), [("parquet", N), ("delta", 300)])
def test_four_processes_one_root(
    tmp_path: Path, python: str, child_env, sink: str, count: int
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    root = tmp_path / "root"
    procs = [
        subprocess.Popen([python, str(script), str(root), sink, f"w{k}", str(count)], env=child_env)
        for k in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    tables = read_tables(root, "execution_status")
    assert len(tables) == 1
    (table,) = tables.values()
    rows = table.to_pylist()
    ids = [r["_status_id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicated events"
    keys = [(r["who"], r["i"], r["_status_state"]) for r in rows]
    assert len(keys) == len(set(keys))
    expected = {
        (f"w{k}", str(i), s) for k in range(4) for i in range(count) for s in ("RUNNING", "SUCCESS")
    }
    assert set(keys) == expected
    runs = list(root.rglob("_runs/*/*.json"))
    assert len(runs) == 4
    if sink == "parquet":
        files = [f for f in (Path(next(iter(tables)))).iterdir() if f.suffix == ".parquet"]
        assert len(files) == 4  # compacted: one file per writer
