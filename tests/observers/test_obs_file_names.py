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


def _codecs(path: Path) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    return {meta.row_group(0).column(c).compression for c in range(meta.num_columns)}


def test_flushes_are_cheap_to_read_and_compacted_files_small(tmp_path: Path) -> None:
    """A flush file: snappy, no dictionary pages, no statistics (what reads fastest when every
    reader's cold load opens many small files); a compacted file: zstd with dictionaries."""
    w = observers.StatusObserver(tmp_path, flush_interval=60)
    w.on_run_start("r", pipeline_uri="p@1")
    node = w.contextualize("n")
    table_dir = tmp_path / "p" / "_status" / "n" / "execution_status"
    for i in range(3):
        node.on_data_start("n", {"i": i}, None)
        w.flush()
    flushes = visible(table_dir)
    assert len(flushes) == 3
    for name in flushes:
        meta = pq.ParquetFile(table_dir / name).metadata
        assert _codecs(table_dir / name) == {"SNAPPY"}
        for c in range(meta.num_columns):
            chunk = meta.row_group(0).column(c)
            assert not chunk.has_dictionary_page and not chunk.is_stats_set
    w.close()  # compacts the three flushes into one
    (compacted,) = visible(table_dir)
    assert _codecs(table_dir / compacted) == {"ZSTD"}
    assert pq.read_table(table_dir / compacted).column("i").to_pylist() == ["0", "1", "2"]
