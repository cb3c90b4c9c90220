"""Delta tables: one commit per event (as orcapod writes), tailing, checkpoints, OPTIMIZE."""

from __future__ import annotations

import os

from deltalake import DeltaTable
from support.events import T0, delta_append, event, table_dir, write_status

from orcatui.model.monitor import Monitor
from orcatui.store.delta_table import DeltaTableReader
from orcatui.store.discovery import TableKind

NODE = ("score", "v0")


def counts(m: Monitor) -> dict[str, int]:
    (p,) = m.snapshot().pipelines
    return p.counts


def test_one_commit_per_event_then_tail(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    for i in range(5):
        delta_append(d, [event("RUNNING", T0 + i, subject=str(i))])
    m = Monitor(tmp_path, clock=lambda: T0 + 10)
    m.refresh()
    assert counts(m)["RUNNING"] == 5
    reader = m.store.readers[d][1]
    assert isinstance(reader, DeltaTableReader) and reader.version == 4
    for i in range(3):
        delta_append(d, [event("SUCCESS", T0 + 5 + i, subject=str(i))])
    m.refresh()
    assert reader.version == 7
    assert counts(m)["SUCCESS"] == 3 and counts(m)["RUNNING"] == 2


def test_long_error_is_read_from_the_file_not_truncated_stats(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    long = "x" * 300 + "\nsecond line"
    delta_append(d, [event("RUNNING", T0, subject="a")])
    delta_append(d, [event("FAILED", T0 + 1, error=long, subject="a")])
    m = Monitor(tmp_path, clock=lambda: T0 + 2)
    m.refresh()
    (p,) = m.snapshot().pipelines
    (row,) = m.packet_rows(p.nodes[0].key).to_pylist()
    assert row["error"] == long


def test_checkpoint_and_optimize_never_double_count(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    for i in range(12):
        delta_append(d, [event("RUNNING", T0 + i, subject=str(i))])
    DeltaTable(str(d)).create_checkpoint()
    m = Monitor(tmp_path, clock=lambda: T0 + 100)
    m.refresh()
    assert counts(m)["RUNNING"] == 12
    delta_append(d, [event("SUCCESS", T0 + 20, subject="0")])
    DeltaTable(str(d)).optimize.compact()  # removes the small files, adds one with the same rows
    m.refresh()
    c = counts(m)
    assert c["RUNNING"] == 11 and c["SUCCESS"] == 1
    # A fresh monitor on the compacted table agrees.
    fresh = Monitor(tmp_path, clock=lambda: T0 + 100)
    fresh.refresh()
    assert counts(fresh) == c


def test_broken_delta_log_is_named_and_other_tables_still_read(tmp_path):
    bad = table_dir(tmp_path, "etl", ("bad",))
    (bad / "_delta_log").mkdir(parents=True)
    commit = bad / "_delta_log" / "00000000000000000000.json"
    commit.write_text("{not json")
    os.utime(commit, (T0, T0))  # corrupt for a while, not a commit being written right now
    write_status(tmp_path, "etl", ("good",), [event("RUNNING", T0, subject="a")])
    m = Monitor(tmp_path, clock=lambda: T0)
    result = m.refresh()
    assert any(str(bad) in p for p in result.problems)
    assert counts(m)["RUNNING"] == 1


def test_tail_falls_back_to_delta_rs_on_a_gap(tmp_path):
    d = table_dir(tmp_path, "etl", NODE)
    delta_append(d, [event("RUNNING", T0, subject="a")])
    reader = DeltaTableReader(d, TableKind.STATUS)
    assert reader.read_new().table.num_rows == 1
    for i in range(3):
        delta_append(d, [event("SUCCESS", T0 + 1 + i, subject="abc"[i])])
    DeltaTable(str(d)).create_checkpoint()
    (d / "_delta_log" / "00000000000000000001.json").unlink()  # log cleanup: a gap for tailing
    batch = reader.read_new()
    # Read through delta-rs from the checkpoint; the file already read is not read again.
    assert sorted(batch.table.column("tag:subject").to_pylist()) == ["a", "b", "c"]
    assert batch.table.column("state").to_pylist() == ["SUCCESS"] * 3
    assert reader.version == 3
