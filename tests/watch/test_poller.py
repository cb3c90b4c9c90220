"""DirPoller, synchronously: which directory mtimes it watches and what a change means."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.watch import (
    PIPELINE,
    backdate,
    log_table_dir,
    status_table_dir,
    write_parquet,
    write_run_record,
)

from orcatui.store.discovery import discover_tables
from orcatui.watching.poller import DirPoller, Kind, walk


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def poller(root: Path, clock: Clock | None = None) -> DirPoller:
    # racy=0: these tests change mtimes by whole writes, never within one timestamp tick
    p = DirPoller(root, racy=0.0, rewalk_every=30.0, clock=clock or Clock())
    p.start()
    return p


def test_walk_watches_the_same_tables_as_discovery(root: Path) -> None:
    write_parquet(root / "lab" / "p2" / "_log" / "f" / "h" / "execution_logs")
    delta = status_table_dir(root, ("g", "h"))
    (delta / "_delta_log").mkdir(parents=True)
    record = root / PIPELINE / "fn" / "rec"
    (record / "_delta_log").mkdir(parents=True)
    watched = walk(root)
    tables = {t for kind, t in watched.values() if kind is Kind.TABLE}
    assert tables == {ref.path for ref in discover_tables(root)}
    assert str(delta / "_delta_log") in watched
    assert not any("_result" in p or p.startswith(str(record)) for p in watched)
    assert watched[str(root / PIPELINE / "_runs")] == (Kind.RUNS, None)


def test_nothing_changed_nothing_reported(root: Path) -> None:
    p = poller(root)
    assert p.check().empty
    assert p.stats_per_check > 5


def test_new_file_reports_table(root: Path) -> None:
    backdate(root)
    p = poller(root)
    write_parquet(status_table_dir(root))
    got = p.check()
    assert got.tables == {status_table_dir(root)} and not got.rescan
    assert p.check().empty


def test_new_node_found_by_walk_when_a_node_dir_changes(root: Path) -> None:
    backdate(root)
    p = poller(root)
    table = status_table_dir(root, ("compute_score", "other_hash", "v0", "t", "schema:y"))
    write_parquet(table)
    got = p.check()
    assert got.rescan and got.tables == {table}
    write_parquet(table)
    assert p.check().tables == {table}


def test_runs_change_asks_for_rescan(root: Path) -> None:
    backdate(root)
    p = poller(root)
    write_run_record(root, "run-9")
    got = p.check()
    assert got.rescan and not got.tables


def test_per_writer_run_record_asks_for_rescan(root: Path) -> None:
    """``_runs/<run_id>/<writer_id>.json``: a writer replacing its record changes only the run's
    directory, which must be watched too."""
    run_dir = root / PIPELINE / "_runs" / "run-7"
    run_dir.mkdir(parents=True)
    (run_dir / "host-1-aaaaaaaa.json").write_text("{}")
    backdate(root)
    p = poller(root)
    assert p._watched[str(run_dir)] == (Kind.RUNS, None)
    tmp = run_dir / ".host-1-aaaaaaaa.json.tmp"
    tmp.write_text('{"heartbeat_at": 1}')
    os.replace(tmp, run_dir / "host-1-aaaaaaaa.json")
    got = p.check()
    assert got.rescan and not got.tables


def test_table_without_execution_folder_is_watched(root: Path) -> None:
    backdate(root)
    p = poller(root)
    table = root / PIPELINE / "_status" / "score"
    write_parquet(table)
    got = p.check()
    assert got.rescan and got.tables == {table}
    assert p._watched[str(table)] == (Kind.TABLE, table)


def test_new_table_missed_by_mtimes_is_found_by_the_timed_walk(root: Path) -> None:
    shutil.rmtree(log_table_dir(root))
    backdate(root)
    clock = Clock()
    p = poller(root, clock)
    table = log_table_dir(root)
    parent = table.parent
    before = parent.stat()
    write_parquet(table)
    # pretend the parent's mtime did not move (coarse timestamps): only a walk can find the table
    os.utime(parent, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert p.check().empty
    clock.now += 31
    got = p.check()
    assert got.rescan and got.tables == {table}


def test_racy_mtime_is_reported_again(root: Path) -> None:
    p = DirPoller(root, racy=60.0)
    p.start()
    table = status_table_dir(root)
    first = p.check()  # the fresh fixture is within the racy window: reported once more
    assert table in first.tables
    assert table in p.check().tables


def test_root_vanishes_and_returns(root: Path) -> None:
    p = poller(root)
    shutil.rmtree(root)
    assert p.check().rescan
    assert p.check().empty  # still gone: quiet
    write_parquet(status_table_dir(root))
    assert p.check().rescan
    write_parquet(status_table_dir(root))
    assert status_table_dir(root) in p.check().tables


def test_unreadable_root_is_not_an_error(tmp_path: Path) -> None:
    p = poller(tmp_path / "missing")
    assert p.check().empty
    os.mkdir(tmp_path / "missing")
    assert p.check().rescan
