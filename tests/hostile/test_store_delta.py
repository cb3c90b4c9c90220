"""Delta tables under hostile conditions: incomplete commits, OPTIMIZE + VACUUM between polls."""

from __future__ import annotations

import os

import pytest
from deltalake import DeltaTable
from support.events import T0, delta_append, event, table_dir

from orcatui.model.monitor import Monitor
from orcatui.store.delta_table import DeltaTableReader
from orcatui.store.discovery import TableKind
from orcatui.store.store import Store

NODE = ("score", "v0")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def commit(d, version: int):
    return d / "_delta_log" / f"{version:020d}.json"


def states(batch) -> list[str]:
    return [] if batch.table is None else sorted(batch.table.column("state").to_pylist())


@pytest.mark.parametrize("cut", ["empty", "half"])
def test_incomplete_newest_commit_is_read_once_complete(tmp_path, cut):
    d = table_dir(tmp_path, "p", NODE)
    for i in range(3):
        delta_append(d, [event("RUNNING", T0 + i, subject=str(i))])
    clock = Clock()
    reader = DeltaTableReader(d, TableKind.STATUS, clock=clock)
    assert len(states(reader.read_new())) == 3
    delta_append(d, [event("FAILED", T0 + 5, error="boom", subject="0")])
    full = commit(d, 3).read_bytes()
    commit(d, 3).write_bytes(b"" if cut == "empty" else full[: len(full) // 2])
    # still being written: nothing read, nothing lost, no warning yet
    assert states(reader.read_new()) == [] and reader.version == 2 and not reader.broken
    commit(d, 3).write_bytes(full)
    assert states(reader.read_new()) == ["FAILED"] and reader.version == 3


def test_incomplete_commit_named_after_grace_then_read_when_repaired(tmp_path):
    d = table_dir(tmp_path, "p", NODE)
    delta_append(d, [event("RUNNING", T0, subject="a")])
    clock = Clock()
    reader = DeltaTableReader(d, TableKind.STATUS, clock=clock)
    reader.read_new()
    delta_append(d, [event("FAILED", T0 + 1, error="boom", subject="a")])
    full = commit(d, 1).read_bytes()
    commit(d, 1).write_bytes(b"")
    assert states(reader.read_new()) == [] and not reader.broken
    clock.now += 5  # past the grace period: named, and the commits after it are read
    delta_append(d, [event("RUNNING", T0 + 2, subject="b")])
    assert states(reader.read_new()) == ["RUNNING"]
    assert list(reader.broken) == ["_delta_log/00000000000000000001.json"]
    assert "commit 1" in reader.broken["_delta_log/00000000000000000001.json"]
    assert states(reader.read_new()) == [] and reader.broken  # still named
    commit(d, 1).write_bytes(full)  # repaired: its row comes in, the warning goes
    assert states(reader.read_new()) == ["FAILED"]
    assert not reader.broken and reader.version == 2


def test_cold_load_with_an_incomplete_newest_commit(tmp_path):
    d = table_dir(tmp_path, "p", NODE)
    for i in range(3):
        delta_append(d, [event("RUNNING", T0 + i, subject=str(i))])
    full = commit(d, 2).read_bytes()
    commit(d, 2).write_bytes(full[:40])
    reader = DeltaTableReader(d, TableKind.STATUS, clock=Clock())
    assert len(states(reader.read_new())) == 2 and not reader.broken
    commit(d, 2).write_bytes(full)
    assert len(states(reader.read_new())) == 1 and reader.version == 2


def counts(m: Monitor) -> dict[str, int]:
    (p,) = m.snapshot().pipelines
    return p.counts


def optimize_and_vacuum(d) -> None:
    dt = DeltaTable(str(d))
    dt.optimize.compact()
    dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)


def test_append_then_optimize_and_vacuum_between_polls(tmp_path):
    d = table_dir(tmp_path, "p", NODE)
    for i in range(6):
        delta_append(d, [event("RUNNING", T0 + i, subject=str(i))])
    m = Monitor(tmp_path, clock=lambda: T0 + 100)
    m.refresh()
    assert counts(m)["RUNNING"] == 6
    # a long error: statistics are cut at 64 bytes, so this row must come from its file
    delta_append(d, [event("FAILED", T0 + 20, error="boom " * 30, subject="0")])
    optimize_and_vacuum(d)  # the appended file is compacted away and deleted before we look
    result = m.refresh()
    assert not result.problems and not m.store.broken
    c = counts(m)
    assert c["RUNNING"] == 5 and c["FAILED"] == 1
    # later commits are tailed as usual
    delta_append(d, [event("SUCCESS", T0 + 30, subject="1")])
    m.refresh()
    assert counts(m)["SUCCESS"] == 1 and not m.store.broken
    fresh = Monitor(tmp_path, clock=lambda: T0 + 100)
    fresh.refresh()
    assert counts(fresh) == counts(m)


def test_compaction_of_rows_already_read_reads_nothing_again(tmp_path):
    d = table_dir(tmp_path, "p", NODE)
    for i in range(4):
        delta_append(d, [event("RUNNING", T0 + i, subject=str(i))])
    reader = DeltaTableReader(d, TableKind.STATUS)
    assert len(states(reader.read_new())) == 4
    optimize_and_vacuum(d)
    assert states(reader.read_new()) == [] and not reader.broken
    delta_append(d, [event("SUCCESS", T0 + 9, subject="2")])
    assert states(reader.read_new()) == ["SUCCESS"]


def test_broken_file_that_was_compacted_away_no_longer_sticks(tmp_path):
    """A data file that failed to read, then removed by OPTIMIZE + VACUUM: the table is fine."""
    d = table_dir(tmp_path, "p", NODE)
    delta_append(d, [event("RUNNING", T0, subject="a", note="x" * 100)])  # forces a file read
    reader = DeltaTableReader(d, TableKind.STATUS)
    reader.read_new()
    delta_append(d, [event("FAILED", T0 + 1, error="e" * 200, subject="a")])
    read = {f.rsplit("/", 1)[-1] for f in reader._files}
    (victim,) = [p for p in d.glob("*.parquet") if p.name not in read]
    good = victim.read_bytes()
    victim.write_bytes(b"garbage")
    reader.read_new()
    assert reader.broken  # the file cannot be read: named
    victim.write_bytes(good)
    optimize_and_vacuum(d)
    reader.read_new()
    assert not reader.broken


def test_broken_parquet_file_removed_is_no_longer_named(tmp_path):
    """A corrupt Parquet file that is then deleted (or compacted away) must not stay reported."""
    from support.events import write_status

    write_status(tmp_path, "p", ("n",), [event("RUNNING", T0, subject="a")])
    bad = table_dir(tmp_path, "p", ("n",)) / "part-bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    os.utime(bad, (T0, T0))  # old: broken, not being written
    store = Store(tmp_path)
    store.poll()
    assert any("part-bad.parquet" in v for v in store.broken.values())
    bad.unlink()
    store.poll()
    assert store.broken == {}


def test_data_file_that_failed_is_read_again_once_readable(tmp_path):
    """A committed data file that cannot be read (an NFS hiccup, a half-synced copy) is named,
    retried on each poll, and its rows are read once it can be; the warning then clears."""
    d = table_dir(tmp_path, "p", NODE)
    delta_append(d, [event("RUNNING", T0, subject="a")])
    reader = DeltaTableReader(d, TableKind.STATUS)
    reader.read_new()
    read = {f.rsplit("/", 1)[-1] for f in reader._files}
    delta_append(d, [event("FAILED", T0 + 1, error="e" * 200, subject="a")])  # read from file
    (victim,) = [p for p in d.glob("*.parquet") if p.name not in read]
    good = victim.read_bytes()
    victim.write_bytes(b"garbage")
    assert states(reader.read_new()) == [] and victim.name in reader.broken
    victim.write_bytes(good)
    assert states(reader.read_new()) == ["FAILED"] and not reader.broken
    assert states(reader.read_new()) == []  # read once only


def test_data_file_failing_at_cold_load_is_retried(tmp_path):
    d = table_dir(tmp_path, "p", NODE)
    delta_append(d, [event("FAILED", T0, error="e" * 200, subject="a")])
    (victim,) = d.glob("*.parquet")
    good = victim.read_bytes()
    victim.write_bytes(b"garbage")
    reader = DeltaTableReader(d, TableKind.STATUS)
    assert states(reader.read_new()) == [] and reader.broken
    victim.write_bytes(good)
    assert states(reader.read_new()) == ["FAILED"] and not reader.broken
