"""Delta tables on S3 read from their log by the reader itself (design.md §9): the cold load
starts from the newest checkpoint and GETs the commits after it (no delta-rs snapshot, no
LIST beyond the root's), folded by the same rule as the local reader; delta-rs stays the
fallback for what the log reader does not follow. Real tables written by ``write_deltalake``
to moto on loopback; rows compared with a local read of the same bytes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from support.events import T0, event
from test_remote_summary import download

from observers.objstore import Bucket
from orcatui.store.remote_store import LogState, RemoteStore, plan_log
from orcatui.store.store import Store

_TABLE = "db/p/_status/work/execution_status"


def _append(url: str, rows: list[dict]) -> None:
    from deltalake import write_deltalake

    write_deltalake(url, pa.Table.from_pylist(rows), mode="append", schema_mode="merge")


def _events(update) -> Counter:
    return Counter((r["state"], r["tag:subject"]) for _, t in update.status for r in t.to_pylist())


def _sorted_rows(tables: list[pa.Table]) -> list[dict]:
    return pa.concat_tables(tables).sort_by([("ts", "ascending")]).to_pylist()


def _log_keys(bucket: str) -> list[str]:
    return [o["path"] for o in Bucket(f"s3://{bucket}/db").list(f"{_TABLE}/_delta_log")]


def test_plan_log_starts_at_the_newest_complete_checkpoint() -> None:
    log = "t/_delta_log/"
    commits = [f"{log}{v:020d}.json" for v in range(8)]
    one = f"{log}{3:020d}.checkpoint.parquet"
    parts = [f"{log}{6:020d}.checkpoint.{i:010d}.{2:010d}.parquet" for i in (1, 2)]
    assert plan_log(commits) == ([], [(v, commits[v]) for v in range(8)])
    assert plan_log([*commits, one]) == ([one], [(v, commits[v]) for v in range(4, 8)])
    assert plan_log([*commits, one, *parts]) == (parts, [(7, commits[7])])
    # a multi-part checkpoint with a part missing is not used
    assert plan_log([*commits, one, parts[0]]) == ([one], [(v, commits[v]) for v in range(4, 8)])
    # commits before the checkpoint cleaned up: fine; a gap after it: delta-rs decides
    assert plan_log([*commits[4:], one]) == ([one], [(v, commits[v]) for v in range(4, 8)])
    assert plan_log([*commits[:5], *commits[6:], one]) is None
    assert plan_log(commits[2:]) is None  # no checkpoint and commit 0 gone
    assert plan_log([]) is None
    assert plan_log([one]) == ([one], [])  # only a checkpoint: the table as of it
    # v2 checkpoints (uuid-named) and other files are not classic checkpoints
    v2 = f"{log}{7:020d}.checkpoint.0195c0de-0000-7000-8000-000000000000.parquet"
    assert plan_log([*commits, v2, f"{log}_last_checkpoint", f"{log}{1:020d}.crc"]) == (
        [],
        [(v, commits[v]) for v in range(8)],
    )


def test_log_state_sends_unfollowed_protocols_to_delta_rs() -> None:
    assert LogState().supported()
    assert LogState({"minReaderVersion": 1}, {"configuration": {}}).supported()
    v3 = {"minReaderVersion": 3, "readerFeatures": ["deletionVectors", "timestampNtz"]}
    assert LogState(v3).supported()  # files with a deletion vector are checked one by one
    assert not LogState({"minReaderVersion": 3, "readerFeatures": ["variantType"]}).supported()
    assert not LogState({"minReaderVersion": 4}).supported()
    assert not LogState({"minReaderVersion": "3"}).supported()  # untrusted: not a number
    mapped = {"configuration": {"delta.columnMapping.mode": "name"}}
    assert not LogState({"minReaderVersion": 2}, mapped).supported()
    none = {"configuration": {"delta.columnMapping.mode": "none"}}
    assert LogState({"minReaderVersion": 2}, none).supported()


def test_cold_load_starts_from_the_checkpoint(tmp_path: Path, s3_server, s3_bucket: str) -> None:
    from deltalake import DeltaTable

    url = f"s3://{s3_bucket}/{_TABLE}"
    for i in range(4):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    DeltaTable(url).create_checkpoint()  # at version 3
    for i in range(3):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    # commits before the checkpoint may be cleaned up: the checkpoint holds their files
    Bucket(f"s3://{s3_bucket}/db").delete([f"{_TABLE}/_delta_log/{v:020d}.json" for v in range(3)])
    store = RemoteStore(f"s3://{s3_bucket}/db")
    store.discover()
    scanned = dict(store.requests)
    update = store.poll(rediscover=False)
    assert _events(update) == Counter(
        [("RUNNING", f"s{i}") for i in range(4)] + [("SUCCESS", f"s{i}") for i in range(3)]
    )
    # one GET of the checkpoint and one per commit after it, no LIST of the log (the scan
    # listed it); the one LIST allowed is of the pipeline's _runs/. delta-rs' snapshot would have
    # made none of these GETs through our client. (The client counts a LIST page when one
    # arrives: the empty listing of _runs/ may count 0.)
    assert "GET" not in scanned and store.requests["GET"] == 1 + 3
    assert store.requests["LIST"] - scanned["LIST"] <= 1
    ((_, reader),) = store.readers.values()
    assert reader.version == 6 and not store.broken
    download(s3_server, s3_bucket, "db/", tmp_path)
    local = Store(tmp_path).poll()
    assert _sorted_rows([t for _, t in update.status]) == _sorted_rows([t for _, t in local.status])
    # and the tail goes on from there
    _append(url, [event("FAILED", T0 + 20, error="boom", subject="s3")])
    assert _events(store.poll(rediscover=False)) == Counter([("FAILED", "s3")])


def test_optimize_and_vacuum_between_polls(s3_bucket: str) -> None:
    from deltalake import DeltaTable

    url = f"s3://{s3_bucket}/{_TABLE}"
    for i in range(5):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    store = RemoteStore(f"s3://{s3_bucket}/db")
    seen = _events(store.poll())
    assert sum(seen.values()) == 5

    def compact() -> None:
        dt = DeltaTable(url)
        dt.optimize.compact()
        dt.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)

    # the five files read are compacted and deleted, then two events appended: only those two
    compact()
    for i in range(2):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    second = _events(store.poll(rediscover=False))
    assert second == Counter([("SUCCESS", "s0"), ("SUCCESS", "s1")]) and not store.broken
    seen += second
    # two more appended and compacted away with rows read before, before a poll sees them:
    # their rows come from the compacted file (which also repeats rows read before — the
    # model folds events idempotently; no event is lost)
    for i in range(2, 4):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    compact()
    third = _events(store.poll(rediscover=False))
    assert {("SUCCESS", "s2"), ("SUCCESS", "s3")} <= set(third) and not store.broken
    assert set(third) <= set(seen) | {("SUCCESS", "s2"), ("SUCCESS", "s3")}
    seen += Counter([("SUCCESS", "s2"), ("SUCCESS", "s3")])
    # a cold reader of the compacted, vacuumed table sees each event once
    assert _events(RemoteStore(f"s3://{s3_bucket}/db").poll()) == seen


def test_a_gap_in_the_log_reloads_without_counting_twice(s3_bucket: str) -> None:
    """Commits cleaned up past the reader (a checkpoint, then the JSON before it deleted):
    the tail cannot bridge the gap, so the snapshot is reloaded and only unread files count."""
    from deltalake import DeltaTable

    url = f"s3://{s3_bucket}/{_TABLE}"
    for i in range(3):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    store = RemoteStore(f"s3://{s3_bucket}/db")
    seen = _events(store.poll())
    assert sum(seen.values()) == 3
    for i in range(3):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    DeltaTable(url).create_checkpoint()  # at version 5
    _append(url, [event("SUCCESS", T0 + 20, subject="s9")])
    Bucket(f"s3://{s3_bucket}/db").delete(
        [f"{_TABLE}/_delta_log/{v:020d}.json" for v in range(3, 5)]
    )
    second = _events(store.poll(rediscover=False))
    assert second == Counter([("SUCCESS", "s0"), ("SUCCESS", "s1"), ("SUCCESS", "s2")]) + Counter(
        [("SUCCESS", "s9")]
    )
    ((_, reader),) = store.readers.values()
    assert reader.version == 6 and not store.broken
    # a cold reader starts from the checkpoint across the same gap
    cold = RemoteStore(f"s3://{s3_bucket}/db")
    assert _events(cold.poll()) == seen + second
    assert cold.requests.get("GET") == 1 + 1  # the checkpoint and commit 6


def test_a_table_the_log_reader_does_not_follow_goes_to_delta_rs(s3_bucket: str) -> None:
    """A commit whose protocol needs a reader feature not followed here: the table is left to
    delta-rs, which refuses it too — named as broken, never wrong rows."""
    import json

    url = f"s3://{s3_bucket}/{_TABLE}"
    _append(url, [event("RUNNING", T0, subject="a")])
    protocol = {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7}}
    protocol["protocol"] |= {"readerFeatures": ["madeUpFeature"], "writerFeatures": []}
    Bucket(f"s3://{s3_bucket}/db").put(
        f"{_TABLE}/_delta_log/{1:020d}.json", json.dumps(protocol).encode() + b"\n"
    )
    store = RemoteStore(f"s3://{s3_bucket}/db")
    update = store.poll()
    assert not update.status
    assert any("madeUpFeature" in why or "eature" in why for why in store.broken.values()), (
        store.broken
    )


def test_a_bad_commit_is_named_and_read_past(s3_bucket: str) -> None:
    """Puts are atomic on object storage: a commit that is not JSON lines stays so; it is
    named and the commits around it are read (as the tail does)."""
    url = f"s3://{s3_bucket}/{_TABLE}"
    _append(url, [event("RUNNING", T0, subject="a")])
    _append(url, [event("RUNNING", T0 + 1, subject="b")])
    _append(url, [event("SUCCESS", T0 + 2, subject="a")])
    b = Bucket(f"s3://{s3_bucket}/db")
    b.put(f"{_TABLE}/_delta_log/{1:020d}.json", b'{"add": {"path": "x.parquet"')  # cut short
    store = RemoteStore(f"s3://{s3_bucket}/db")
    assert _events(store.poll()) == Counter([("RUNNING", "a"), ("SUCCESS", "a")])
    assert any("commit 1 " in why for why in store.broken.values()), store.broken


def test_list_tree_gives_what_one_recursive_listing_gives(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root larger than a page is listed as prefixes at once: the same objects, in key
    order, with objects at every level (the walk's folders and below its frontier)."""
    from orcatui.store import objstore

    b = Bucket(f"s3://{s3_bucket}/db")
    keys = ["db/top.json", "db/p/_runs/r/w.json", "db/p/x.parquet"]
    keys += [f"db/p/_status/n{i}/v0/t/{j}.parquet" for i in range(5) for j in range(3)]
    keys += ["db/q/_status/m/_delta_log/00000000000000000000.json", "dbx/outside.json"]
    for k in keys:
        b.put(k, b"{}")
    whole = [o["path"] for o in b.list("db")]
    assert "dbx/outside.json" not in whole and len(whole) == len(keys) - 1
    monkeypatch.setattr(objstore, "LIST_PAGE", 4)  # "more than a page": walk the tree
    for fan, depth in ((16, 4), (2, 1), (3, 2), (100, 10)):
        before = b.requests.get("LIST", 0)
        got = [o["path"] for o in objstore.list_tree(b, "db", fan=fan, depth=depth)]
        assert got == whole, (fan, depth)
        assert b.requests["LIST"] - before > 1  # it did split
    monkeypatch.setattr(objstore, "LIST_PAGE", 1000)
    before = b.requests.get("LIST", 0)
    assert [o["path"] for o in objstore.list_tree(b, "db")] == whole
    assert b.requests["LIST"] - before == 1  # one page: one LIST
