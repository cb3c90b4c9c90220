"""Discovery on real layouts (root-level ``_status``, tables by content), run records per writer,
unreadable directories named, and a root that cannot be read said in words."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from support.events import T0, delta_append, event, table_dir, write_parquet, write_status

from orcatui.store.discovery import TableKind, discover, discover_tables
from orcatui.store.store import RootError, Store, check_root
from orcatui.watching.poller import Kind, walk


def test_root_that_is_one_pipeline_folder(tmp_path, orcapod_sample):
    """``watch ok/ok_pipeline``: ``_status`` sits directly under the root, pipeline ``()``."""
    shutil.copytree(orcapod_sample("ok"), tmp_path / "ok")
    root = tmp_path / "ok" / "ok_pipeline"
    runs = root / "_runs"
    runs.mkdir()
    (runs / "r1.json").write_text(json.dumps({"run_id": "r1", "pid": 1}))
    store = Store(root)
    update = store.poll()
    assert {ref.pipeline for ref in store.tables} == {()}
    assert len([r for r in store.tables if r.kind is TableKind.STATUS]) == 4
    assert sum(t.num_rows for _, t in update.status) == 160  # 20 subjects x 4 nodes x 2 events
    assert [r["_record_path"] for r in update.run_records[()]] == ["_runs/r1.json"]
    # the poller's walk watches the same tables
    watched = {t for kind, t in walk(root).values() if kind is Kind.TABLE}
    assert watched == {ref.path for ref in store.tables}


def test_tables_found_by_content_without_execution_folder(tmp_path):
    """orcapod's reader-test layout: a Delta table directly below ``_status/<node>``; a Parquet
    directory below ``_log/<node>/<hash>``. Their parents are not tables."""
    delta = tmp_path / "p" / "_status" / "score"
    delta_append(delta, [event("FAILED", T0, error="boom", subject="a")])
    plain = tmp_path / "p" / "_log" / "score" / "h1"
    write_parquet(plain, [{"_log_run_id": "run1", "_log_timestamp": "2026-11-28T15:13:37+00:00"}])
    named = table_dir(tmp_path, "p", ("clean", "v0"))
    write_status(tmp_path, "p", ("clean", "v0"), [event("RUNNING", T0, subject="a")])
    refs = discover_tables(tmp_path)
    assert {(r.kind, r.pipeline, r.identity, r.path) for r in refs} == {
        (TableKind.STATUS, ("p",), ("score",), delta),
        (TableKind.LOG, ("p",), ("score", "h1"), plain),
        (TableKind.STATUS, ("p",), ("clean", "v0"), named),
    }
    update = Store(tmp_path).poll()
    states = sorted(s for _, t in update.status for s in t.column("state").to_pylist())
    assert states == ["FAILED", "RUNNING"]
    assert sum(t.num_rows for _, t in update.logs) == 1


def record(run: str, writer: str | None = None, **extra) -> dict:
    """A run record as the observers write it."""
    return {"run_id": run, "writer_id": writer, "pid": 4242, "heartbeat_at": T0, **extra}


def test_per_writer_run_records_read_and_reread_only_when_changed(tmp_path):
    write_status(tmp_path, "p", ("n",), [event("RUNNING", T0, subject="a")])
    runs = tmp_path / "p" / "_runs"
    (runs / "r2").mkdir(parents=True)
    (runs / "r1.json").write_text(json.dumps(record("r1")))
    (runs / "r2" / "host-1-aaaaaaaa.json").write_text(json.dumps(record("r2", "host-1-aaaaaaaa")))
    (runs / "r2" / "host-2-bbbbbbbb.json").write_text(json.dumps(record("r2", "host-2-bbbbbbbb")))
    (runs / "r2" / ".host-3-cccccccc.json.tmp").write_text("{half")  # writer's temp file
    (runs / "r2" / "host-9-broken.json").write_text('{"run_id": ')
    store = Store(tmp_path)
    update = store.poll()
    got = {r["_record_path"]: r["writer_id"] for r in update.run_records[("p",)]}
    assert got == {
        "p/_runs/r1.json": None,
        "p/_runs/r2/host-1-aaaaaaaa.json": "host-1-aaaaaaaa",
        "p/_runs/r2/host-2-bbbbbbbb.json": "host-2-bbbbbbbb",
    }
    (broken,) = [p for p in update.problems if "run record" in p]
    assert "host-9-broken.json" in broken
    # nothing changed: nothing re-read, the broken record not named again
    again = store.poll()
    assert again.run_records == {} and not again.problems
    # one writer's record replaced (size changes): only that one is handed on
    (runs / "r2" / "host-2-bbbbbbbb.json").write_text(
        json.dumps(record("r2", "host-2-bbbbbbbb", ended_at=T0 + 5, outcome="completed"))
    )
    (third,) = store.poll().run_records[("p",)]
    assert third["_record_path"] == "p/_runs/r2/host-2-bbbbbbbb.json"
    assert third["outcome"] == "completed"


def test_run_record_that_is_not_an_object_is_named(tmp_path):
    write_status(tmp_path, "p", ("n",), [event("RUNNING", T0, subject="a")])
    (tmp_path / "p" / "_runs").mkdir()
    (tmp_path / "p" / "_runs" / "r1.json").write_text("[1, 2]")
    update = Store(tmp_path).poll()
    assert update.run_records == {}
    assert any("r1.json" in p and "not an object" in p for p in update.problems)


@pytest.mark.parametrize("how", ["dangling link", "link loop", "file"])
def test_unreadable_table_dir_is_named_not_skipped(tmp_path, how):
    """A status directory that cannot be read is named (the summary then exits 4).

    Tests run as root, for whom ``chmod 000`` changes nothing, so the unreadable directory is
    made the ways that really fail as root too: a table directory that is a symbolic link to a
    disk that is gone (``ENOENT`` at ``os.scandir``/``stat``, as with an unmounted target), a link
    loop (``ELOOP``), or a file where the table directory should be.
    """
    write_status(tmp_path, "p", ("good",), [event("SUCCESS", T0, subject="a")])
    bad = table_dir(tmp_path, "p", ("bad",))
    bad.parent.mkdir(parents=True)
    if how == "dangling link":
        bad.symlink_to(tmp_path / "unmounted" / "execution_status")
    elif how == "link loop":
        bad.symlink_to(bad)
    else:
        bad.write_bytes(b"PAR1")
    store = Store(tmp_path)
    update = store.poll()
    assert any(str(bad) in p for p in update.problems)
    assert str(bad) in store.broken
    assert sum(t.num_rows for _, t in update.status) == 1  # the rest is read
    assert not store.poll().problems  # named once, kept in ``broken``
    # repaired: no longer broken, its rows are read
    bad.unlink()
    write_status(tmp_path, "p", ("bad",), [event("FAILED", T0, error="x", subject="b")])
    fixed = store.poll()
    assert str(bad) not in store.broken
    assert [t.column("state").to_pylist() for _, t in fixed.status] == [["FAILED"]]


def test_linked_table_dir_on_another_disk_is_read(tmp_path):
    elsewhere = tmp_path / "disk2" / "execution_status"
    write_parquet(elsewhere, [event("FAILED", T0, error="x", subject="a")])
    link = table_dir(tmp_path, "p", ("n",))
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere)
    found = discover(tmp_path / "p")
    assert [r.path for r in found.tables] == [link] and not found.problems


def test_unreadable_node_dir_below_section_is_named(tmp_path):
    write_status(tmp_path, "p", ("good",), [event("SUCCESS", T0, subject="a")])
    loop = tmp_path / "p" / "_status" / "loop"
    loop.symlink_to(loop)
    found = discover(tmp_path)
    assert list(found.problems) == [str(loop)]
    assert "link loop" in found.problems[str(loop)]


def test_check_root_says_why_in_words(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(RootError, match="no such directory"):
        check_root(missing)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RootError, match="not a directory"):
        check_root(tmp_path / "file")
    with pytest.raises(RootError) as info:
        check_root(tmp_path / "file" / "sub")
    assert "[Errno" not in str(info.value) and "not a directory" in str(info.value)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(RootError) as info:
        check_root(loop)
    msg = str(info.value)
    assert "[Errno" not in msg and "link loop" in msg and "\n" not in msg
    check_root(tmp_path)  # a readable root passes


def test_check_root_names_a_root_that_is_not_utf8(tmp_path):
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/r\xffoot"))
    with pytest.raises(RootError) as info:
        check_root(odd)
    assert "r\\xffoot" in str(info.value)
    str(info.value).encode("utf-8")  # printable: no lone surrogates


def test_sample_store_with_all_pipelines_is_unchanged(orcapod_sample):
    refs = discover_tables(orcapod_sample("ok").parent)
    assert {r.pipeline for r in refs} == {
        ("ok", "ok_pipeline"),
        ("failures", "failures_pipeline"),
        ("multi_tag", "lab_a", "multi_tag_pipeline"),
    }
    assert len(refs) == 22
