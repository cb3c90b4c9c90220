"""``RemoteStore``: the ``Store`` interface over an S3 root (moto on loopback).

Discovery by one listing placed by THE layout rule, incremental reads of Parquet and Delta
tables (an OPTIMIZE never counts rows twice), ``poll(only=…)`` and ``rediscover``, request
counts, and the identity of rows with a local read.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.events import T0, event, log_row
from test_remote_summary import download, orcatui

import observers
from observers.objstore import Bucket
from orcatui.store.discovery import ObjectPath, TableFormat, TableKind
from orcatui.store.layout_walk import place
from orcatui.store.remote_store import RemoteStore
from orcatui.store.store import Store, open_store


def _put_parquet(b: Bucket, key: str, rows: list[dict]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    b.put(key, buf.getvalue())


def _ids(update) -> Counter:
    """Events of an update as (state, subject) (ids of one-row Delta files come from
    statistics, which delta-rs keeps only for non-binary columns)."""
    return Counter((r["state"], r["tag:subject"]) for _, t in update.status for r in t.to_pylist())


def test_place_is_the_local_walks_rule() -> None:
    assert place(("lab", "p", "_status", "fn", "v0", "execution_status")) == place(
        ("lab", "p", "_status", "fn", "v0", "execution_status", "_delta_log")
    )
    spot = place(("lab", "p", "_status", "fn", "v0", "execution_status"))
    assert spot is not None
    assert (spot.kind, spot.pipeline, spot.identity, spot.length) == (
        "status",
        ("lab", "p"),
        ("fn", "v0"),
        6,
    )
    spot = place(("p", "_log", "node", "execution_logs", "part"))  # inside a named table
    assert spot is not None and spot.length == 4 and spot.kind == "log"
    assert place(("p", "_status", "node")).identity == ("node",)  # a data folder: the node
    assert place(("_status", "execution_status")).pipeline == ()
    for bad in (
        ("p", "_status"),  # the section itself is never a table
        ("p", "_result", "_status", "x"),  # never entered
        ("p", ".hidden", "_status", "x"),
        ("p", "_runs", "_status", "x"),
        ("p", "fn", "execution_status"),  # no section
    ):
        assert place(bad) is None, bad


def test_discovery_places_tables_like_the_local_walk(tmp_path: Path, s3_bucket: str) -> None:
    b = Bucket(f"s3://{s3_bucket}/db")
    rows = [event("SUCCESS", T0, subject="a")]
    layout = [
        "lab/p/_status/fn/v0/schema:x/execution_status/a.parquet",
        "lab/p/_status/fn/v0/schema:x/execution_status/nested/b.parquet",  # inside the table
        "lab/p/_status/plain/c.parquet",  # a data folder below the section: a table
        "lab/p/_status/plain/deeper/d.parquet",  # a table inside a table: not one
        "lab/p/_result/fn/e.parquet",  # orcapod's results: never status data
        "other/f.parquet",  # no section
        "lab/p/_status/.tmp/g.parquet",  # hidden
    ]
    for key in layout:
        _put_parquet(b, f"db/{key}", rows)
        target = tmp_path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b.get(f"db/{key}"))
    remote = RemoteStore(f"s3://{s3_bucket}/db")
    local = Store(tmp_path)
    got = {(r.kind, r.pipeline, r.identity) for r in remote.discover()}
    want = {(r.kind, r.pipeline, r.identity) for r in local.discover()}
    assert (
        got
        == want
        == {
            (TableKind.STATUS, ("lab", "p"), ("fn", "v0", "schema:x")),
            (TableKind.STATUS, ("lab", "p"), ("plain",)),
        }
    )
    for ref in remote.tables:
        assert isinstance(ref.path, ObjectPath) and ref.format is TableFormat.PARQUET
        assert str(ref.path).startswith(f"s3://{s3_bucket}/db/lab/p/_status/")
        with pytest.raises(TypeError):
            Path(ref.path)  # type: ignore[arg-type]  # never a local path
        with pytest.raises(TypeError):
            os.stat(ref.path)  # type: ignore[arg-type]


def _delta_status(url: str, rows: list[dict], mode: str = "append") -> None:
    from deltalake import write_deltalake

    write_deltalake(url, pa.Table.from_pylist(rows), mode=mode, schema_mode="merge")


def test_delta_table_is_tailed_and_an_optimize_counts_nothing_twice(s3_bucket: str) -> None:
    from deltalake import DeltaTable

    table = f"s3://{s3_bucket}/db/p/_status/work/execution_status"
    for i in range(3):
        _delta_status(table, [event("RUNNING", T0 + i, subject=f"s{i}")])
    store = RemoteStore(f"s3://{s3_bucket}/db")
    first = store.poll()
    seen = _ids(first)
    assert sum(seen.values()) == 3 and [r.format for r in first.new_tables] == [TableFormat.DELTA]
    for i in range(3):
        _delta_status(table, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    second = store.poll(rediscover=False)
    assert sum(_ids(second).values()) == 3 and not (set(_ids(second)) & set(seen))
    seen += _ids(second)
    DeltaTable(table).optimize.compact()  # rewrites the 6 one-row files into one
    third = store.poll(rediscover=False)
    assert _ids(third) == Counter() and not store.broken
    ((_, reader),) = store.readers.values()
    assert reader.version == DeltaTable(table).version()  # the OPTIMIZE commit was folded
    _delta_status(table, [event("FAILED", T0 + 20, error="boom", subject="s9")])
    fourth = store.poll(rediscover=False)
    assert sum(_ids(fourth).values()) == 1
    seen += _ids(fourth)
    assert max(seen.values()) == 1 and len(seen) == 7
    # a cold reader of the compacted table sees each event once, too
    cold = RemoteStore(f"s3://{s3_bucket}/db").poll()
    assert _ids(cold) == seen


def test_delta_rows_equal_a_local_read(tmp_path: Path, s3_server, s3_bucket: str) -> None:
    """Rows from statistics (one-row files) and from files (more rows) are the same as a local
    read of the same bytes."""
    table = f"s3://{s3_bucket}/db/p/_status/work/execution_status"
    _delta_status(table, [event("RUNNING", T0, subject="a")])
    _delta_status(
        table,
        [event("SUCCESS", T0 + 1, subject="a"), event("FAILED", T0 + 2, error="x", subject="b")],
    )
    logs = f"s3://{s3_bucket}/db/p/_log/work/execution_logs"
    _delta_status(logs, [log_row("run1", T0 + 1, stdout="hi\n", subject="a")])
    download(s3_server, s3_bucket, "db/", tmp_path)
    remote, local = RemoteStore(f"s3://{s3_bucket}/db").poll(), Store(tmp_path).poll()
    for kind in ("status", "logs"):
        got = [t for _, t in getattr(remote, kind)]
        want = [t for _, t in getattr(local, kind)]
        order = [("ts", "ascending")]
        assert got and (
            pa.concat_tables(got).sort_by(order).to_pylist()
            == pa.concat_tables(want).sort_by(order).to_pylist()
        )


def test_poll_only_and_rediscover(s3_bucket: str) -> None:
    b = Bucket(f"s3://{s3_bucket}/db")
    _put_parquet(b, "db/p/_status/a/execution_status/1-x.parquet", [event("RUNNING", T0)])
    _put_parquet(b, "db/p/_status/b/execution_status/1-x.parquet", [event("RUNNING", T0)])
    store = open_store(f"s3://{s3_bucket}/db")
    assert isinstance(store, RemoteStore)
    store.poll()
    _, bb = sorted(store.tables, key=lambda r: r.identity)
    _put_parquet(b, "db/p/_status/a/execution_status/2-x.parquet", [event("SUCCESS", T0 + 1)])
    _put_parquet(b, "db/p/_status/b/execution_status/2-x.parquet", [event("SUCCESS", T0 + 1)])
    before = dict(store.requests)
    only_b = store.poll(rediscover=False, only={bb.path})
    assert [r.identity for r, _ in only_b.status] == [("b",)]
    # b's tail and its pipeline's _runs/ (empty, still a request), no rescan of the root
    assert store.requests["LIST"] - before.get("LIST", 0) == 2
    _put_parquet(b, "db/p/_status/c/execution_status/1-x.parquet", [event("RUNNING", T0)])
    assert store.poll(rediscover=False, only=set()).new_tables == []
    found = store.poll(rediscover=True)
    assert [r.identity for r in found.new_tables] == [("c",)]
    assert sorted(r.identity for r, _ in found.status) == [("a",), ("c",)]


def test_run_records_are_handed_on_with_their_path(s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/db"
    run = observers.run(url, pipeline="lab/p", run_id="r1", flush_interval=0.05)
    with run, run.node("work") as node, node.packet(subject="a"):
        pass
    store = RemoteStore(url)
    update = store.poll()
    (records,) = update.run_records.values()
    (rec,) = records
    assert rec["_record_path"].startswith("lab/p/_runs/r1/") and rec["outcome"] == "completed"
    assert rec["_heartbeat_watched"] is False and isinstance(rec["_seen_change_at"], float)
    assert store.poll(rediscover=False).run_records == {}  # unchanged: not handed on again
    Bucket(url).put("db/lab/p/_runs/r1/broken.json", b"{not json")
    bad = store.poll()
    assert any("broken.json" in p and "unreadable run record" in p for p in bad.problems)
    assert any("broken.json" in k for k in store.broken)


SUMMARY_CHILD = """
import sys
from orcatui.cli import main
code = main(["summary", sys.argv[1]])
print(code, *[m for m in ("textual", "rich", "obstore") if m in sys.modules], file=sys.stderr)
"""


def test_summary_imports_obstore_only_for_a_url(
    tmp_path: Path, s3_bucket: str, child_env: dict[str, str]
) -> None:
    url = f"s3://{s3_bucket}/db"
    run = observers.run(url, pipeline="p", run_id="r1", flush_interval=0.05)
    with run, run.node("work") as node, node.packet(subject="a"):
        pass
    local = tmp_path / "db"
    run = observers.run(str(local), pipeline="p", run_id="r1", flush_interval=0.05)
    with run, run.node("work") as node, node.packet(subject="a"):
        pass
    for root, loaded in ((url, "0 obstore"), (str(local), "0")):
        r = subprocess.run(
            [sys.executable, "-c", SUMMARY_CHILD, root],
            capture_output=True,
            text=True,
            env=child_env,
            timeout=120,
            check=True,
        )
        assert r.stderr.strip().splitlines()[-1] == loaded


@pytest.mark.slow
def test_four_writers_read_back_by_summary(
    tmp_path: Path, s3_bucket: str, python: str, child_env: dict[str, str]
) -> None:
    """4 writer processes at once into one S3 store (Parquet sink, compacted at run end): the
    summary counts every packet exactly once and every writer's record."""
    from test_objstore_writers import CHILD

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    url = f"s3://{s3_bucket}/db"
    procs = [
        subprocess.Popen([python, str(script), url, "parquet", f"w{k}", "300"], env=child_env)
        for k in range(4)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0, 0, 0]
    r = orcatui("summary", url, "--all-runs", "--json", env=child_env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    (p,) = data["pipelines"]
    assert p["counts"]["SUCCESS"] == 4 * 300 and p["counts"]["RUNNING"] == 0
    assert data["errors"] == []
