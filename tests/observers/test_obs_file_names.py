"""Issue 12 item 2 (writer side): Parquet file names sort by time across writers."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyarrow.parquet as pq

import observers

NAME = re.compile(r"^(\d{13})-([A-Za-z0-9_.][A-Za-z0-9_.-]*)-(\d{8})\.parquet$")


def visible(table_dir: Path) -> list[str]:
    return sorted(
        f.name
        for f in table_dir.iterdir()
        if f.suffix == ".parquet" and not f.name.startswith((".", "_"))
    )


def test_names_sort_by_time_across_writers_and_compaction_sorts_last(tmp_path: Path) -> None:
    writers = [observers.StatusObserver(tmp_path, flush_interval=60) for _ in range(2)]
    nodes = []
    for w in writers:
        w.on_run_start("r", pipeline_uri="p@1")
        nodes.append(w.contextualize("n"))
    table_dir = tmp_path / "p" / "_status" / "n" / "execution_status"
    order: list[str] = []  # first event of each file, in the order the files were written
    for i in range(8):
        k = i % 2 if i < 4 else 1 - i % 2  # w0 w1 w0 w1 w1 w0 w1 w0
        nodes[k].on_data_start("n", {"i": i}, None)
        before = set(visible(table_dir)) if table_dir.exists() else set()
        writers[k].flush()
        (new,) = set(visible(table_dir)) - before
        order.append(new)
        time.sleep(0.003)  # distinct milliseconds, as flushes of real writers are
    names = visible(table_dir)
    assert all(NAME.match(n) for n in names), names
    assert names == order  # name order is write order, whichever writer wrote
    assert [pq.read_table(table_dir / n).column("i")[0].as_py() for n in names] == [
        str(i) for i in range(8)
    ]
    ids = {NAME.match(n).group(2) for n in names}  # type: ignore[union-attr]
    assert ids == {w.writer.writer_id for w in writers}

    last_seen = names[-1]
    writers[0].close()  # compacts writer 0's four files into one
    after = visible(table_dir)
    compacted = [n for n in after if n not in names]
    assert len(compacted) == 1 and compacted[0] > last_seen
    assert len(after) == 5
    writers[1].close()
    assert len(visible(table_dir)) == 2
