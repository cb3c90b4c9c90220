"""Directory and file names that are not UTF-8 (bytes paths, read back with surrogateescape)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from support.events import T0, delta_append, event, write_status

from orcatui.store.discovery import discover
from orcatui.store.store import Store
from orcatui.watching.layout import tables_below
from orcatui.watching.poller import Kind, walk


def write_bytes_named(directory: bytes, name: bytes, rows: list[dict]) -> None:
    """A Parquet file written through a file object: its name is not UTF-8."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as fh:
        pq.write_table(pa.Table.from_pylist(rows), fh)


def test_non_utf8_dir_and_file_names_are_read_and_named(tmp_path):
    root = os.fsencode(tmp_path)
    node = root + b"/p/_status/n\xffode/execution_status"
    write_bytes_named(node, b"part-\xff.parquet", [event("FAILED", T0, error="x", subject="a")])
    plain = root + b"/p/_status/plain/execution_status"
    write_bytes_named(plain, b"caf\xe9.parquet", [event("FAILED", T0, error="y", subject="b")])
    # a Delta table delta-rs cannot open by its (non-UTF-8) name
    delta_append(tmp_path / "p" / "_status" / "tmp" / "execution_status", [event("RUNNING", T0)])
    os.rename(root + b"/p/_status/tmp", root + b"/p/_status/d\xffelta")
    write_status(tmp_path, "p", ("good",), [event("SUCCESS", T0, subject="c")])

    store = Store(tmp_path)
    update = store.poll()
    got = {ref.identity: t.column("state").to_pylist() for ref, t in update.status}
    assert got == {
        (os.fsdecode(b"n\xffode"),): ["FAILED"],
        ("plain",): ["FAILED"],
        ("good",): ["SUCCESS"],
    }
    (problem,) = update.problems
    assert "d\\xffelta" in problem and "UTF-8" in problem
    problem.encode("utf-8")  # printable as it is: no lone surrogates
    assert all(v.encode("utf-8") for v in store.broken.values())


def test_walks_do_not_crash_on_non_utf8_names(tmp_path):
    root = os.fsencode(tmp_path)
    write_bytes_named(
        root + b"/p\xfe/_log/f\xff/execution_logs", b"a.parquet", [{"_log_run_id": "r"}]
    )
    os.makedirs(root + b"/p\xfe/_runs/r\xff")
    found = discover(tmp_path)
    assert [r.pipeline for r in found.tables] == [(os.fsdecode(b"p\xfe"),)]
    watched = walk(tmp_path)
    assert {k for k, _ in watched.values()} == {Kind.TREE, Kind.NODE, Kind.TABLE, Kind.RUNS}
    assert tables_below(tmp_path, (os.fsdecode(b"p\xfe"),)) == {found.tables[0].path}
    assert Path(os.fsdecode(root + b"/p\xfe/_log/f\xff/execution_logs")) == found.tables[0].path
