"""Path rules: which changed path is which table, what asks for a rescan, what is noise."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.watch import status_table_dir, write_parquet
from watchfiles import Change

from orcatui.watch import map_changes
from orcatui.watching.layout import Place, locate, tables_below

T = ("p", "_status", "fn", "h", "execution_status")


@pytest.mark.parametrize(
    ("parts", "place", "table"),
    [
        ((*T, "part-1.parquet"), Place.TABLE_FILE, T),
        ((*T, "_delta_log", "00000000000000000003.json"), Place.TABLE_FILE, T),
        ((*T, "_delta_log", "00000000000000000100.checkpoint.parquet"), Place.TABLE_FILE, T),
        ((*T, "_delta_log", "_last_checkpoint"), Place.TABLE_FILE, T),
        ((*T, "_delta_log"), Place.TABLE_DIR, T),
        (T, Place.TABLE_DIR, T),
        (("p", "_status", "fn"), Place.NODE_DIR, None),
        (("p", "_log"), Place.NODE_DIR, None),
        (("p", "_runs"), Place.RUNS, None),
        (("p", "_runs", "abc.json"), Place.RUNS, None),
        (("p", "_runs", "r1"), Place.RUNS, None),  # a run's dir of per-writer records
        (("p", "_runs", "r1", "host-1-0a1b2c3d.json"), Place.RUNS, None),
        (("_status", "fn", "execution_status", "a.parquet"), Place.TABLE_FILE, None),
        # tables known by their content, below the section (orcapod's reader-test layout)
        (
            ("p", "_status", "score", "_delta_log", "00000000000000000003.json"),
            Place.TABLE_FILE,
            ("p", "_status", "score"),
        ),
        (("p", "_status", "score", "_delta_log"), Place.TABLE_DIR, ("p", "_status", "score")),
        (("p", "_log", "f", "h", "part-0.parquet"), Place.TABLE_FILE, ("p", "_log", "f", "h")),
        (("lab", "p"), Place.TREE, None),
        (("p", "x", "_log", "fn", "execution_logs", "a.parquet"), Place.TABLE_FILE, None),
    ],
)
def test_locate_relevant(
    parts: tuple[str, ...], place: Place, table: tuple[str, ...] | None
) -> None:
    loc = locate(parts)
    assert loc is not None and loc.place is place
    if table is not None:
        assert loc.table == table


@pytest.mark.parametrize(
    "parts",
    [
        (),
        (*T, ".part-1.parquet.tmp"),  # writer's temporary name
        (*T, "_tmp-1.parquet"),
        (*T, "_delta_log", "_commit_1234.json.tmp"),  # delta-rs temporary commit
        (*T, "_delta_log", ".tmp"),
        ("p", "_result", "fn", "x.parquet"),
        ("p", "_result"),
        ("p", "fn", "rec", "_delta_log", "00000000000000000000.json"),  # orcapod record table
        ("p", "fn", "rec", "part-0.parquet"),
        ("README.txt",),
        ("p", "_runs", ".abc.json.tmp"),
        ("p", "_runs", "r1", ".host-1.json.tmp"),
        ("p", "_status", "_delta_log", "00000000000000000000.json"),  # the section is no table
        ("p", "_status", "score", ".part-0.parquet.tmp"),
        (".hidden", "_status", "fn", "execution_status", "a.parquet"),
    ],
)
def test_locate_noise(parts: tuple[str, ...]) -> None:
    assert locate(parts) is None


def test_map_rename_into_table(tmp_path: Path) -> None:
    table = status_table_dir(tmp_path)
    raw = {
        (Change.added, str(table / ".f.parquet.tmp")),
        (Change.deleted, str(table / ".f.parquet.tmp")),
        (Change.added, str(table / "f.parquet")),
    }
    got = map_changes(raw, tmp_path)
    assert got.tables == {table} and not got.rescan


def test_map_rename_with_swapped_labels_is_still_seen(tmp_path: Path) -> None:
    table = status_table_dir(tmp_path)
    raw = {(Change.deleted, str(table / "f.parquet")), (Change.added, str(table / ".f.tmp"))}
    assert map_changes(raw, tmp_path).tables == {table}


def test_map_new_table_dir_scans_it(tmp_path: Path) -> None:
    table = status_table_dir(tmp_path)
    write_parquet(table)
    # only the top of the new tree was seen (its subdirectories were created before the watch)
    top = tmp_path / "pipe" / "_status"
    got = map_changes({(Change.added, str(top))}, tmp_path)
    assert got.rescan and got.tables == {table}


def test_map_vanished_dir_is_ignored(tmp_path: Path) -> None:
    got = map_changes({(Change.added, str(tmp_path / "pipe" / "_status" / "gone"))}, tmp_path)
    assert got.empty


def test_map_runs_and_result(tmp_path: Path) -> None:
    raw = {
        (Change.modified, str(tmp_path / "p" / "_runs" / "r.json")),
        (Change.added, str(tmp_path / "p" / "_result" / "x.parquet")),
    }
    got = map_changes(raw, tmp_path)
    assert got.rescan and got.tables == set()


def test_map_ignores_paths_outside_root(tmp_path: Path) -> None:
    got = map_changes({(Change.added, "/elsewhere/p/_runs/r.json")}, tmp_path / "root")
    assert got.empty


def test_map_through_symlinked_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    table = status_table_dir(real)
    write_parquet(table)
    link = tmp_path / "link"
    link.symlink_to(real)
    got = map_changes({(Change.added, str(table / "f.parquet"))}, link)
    assert got.tables == {status_table_dir(link)}


def test_tables_below_finds_tables_by_content_and_at_the_root(tmp_path: Path) -> None:
    write_parquet(tmp_path / "_status" / "score" / "h1")
    (tmp_path / "_log" / "score" / "_delta_log").mkdir(parents=True)
    expected = {tmp_path / "_status" / "score" / "h1", tmp_path / "_log" / "score"}
    assert tables_below(tmp_path, ()) == expected
    assert tables_below(tmp_path, ("_status",)) == {tmp_path / "_status" / "score" / "h1"}
    assert tables_below(tmp_path, ("_log", "score", "_delta_log")) == {tmp_path / "_log" / "score"}


def test_tables_below_only_counts_tables_in_sections(tmp_path: Path) -> None:
    (tmp_path / "p" / "_status" / "a" / "execution_status").mkdir(parents=True)
    (tmp_path / "p" / "_log" / "a" / "execution_logs").mkdir(parents=True)
    (tmp_path / "p" / "_result" / "_status" / "execution_status").mkdir(parents=True)
    (tmp_path / "p" / "stray" / "execution_status").mkdir(parents=True)
    assert tables_below(tmp_path, ("p",)) == {
        tmp_path / "p" / "_status" / "a" / "execution_status",
        tmp_path / "p" / "_log" / "a" / "execution_logs",
    }
