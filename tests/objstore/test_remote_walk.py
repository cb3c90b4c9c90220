"""Discovery of a large S3 root by a walk (design.md §9): delimiter LISTs along the layout rule,
Delta tables read from ``_last_checkpoint`` by name, never a LIST of a table's data files or
of the commits its checkpoint replaces. Real tables written by ``write_deltalake`` to moto on
loopback; what the walk finds and reads is compared with the whole-root listing and with a
local read of the same bytes. The walk is forced on small roots by lowering
``objstore.WALK_FROM`` (a root's first page size) and ``objstore.big_logs``.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.events import T0, event, log_row
from test_remote_summary import download

from observers.objstore import Bucket
from orcatui.store import objstore
from orcatui.store.objstore import CheckpointHint, big_logs, parse_last_checkpoint
from orcatui.store.remote_store import RemoteStore
from orcatui.store.store import Store

_CK = "db/lab/p/_status/fn/v0/execution_status"  # a Delta table with a checkpoint
_NOCK = "db/lab/p/_status/fn2/execution_status"  # a Delta table without one
_UNNAMED = "db/lab/p/_status/reader/layout"  # a Delta table in an unnamed folder


def _append(url: str, rows: list[dict]) -> None:
    from deltalake import write_deltalake

    write_deltalake(url, pa.Table.from_pylist(rows), mode="append", schema_mode="merge")


def _checkpoint(url: str) -> None:
    from deltalake import DeltaTable

    DeltaTable(url).create_checkpoint()


def _put_parquet(b: Bucket, key: str, rows: list[dict]) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    b.put(key, buf.getvalue())


def _events(update: Any) -> Counter:
    return Counter(
        (r["state"], r.get("tag:subject")) for _, t in update.status for r in t.to_pylist()
    )


def _shape(store: Any) -> set[tuple]:
    return {(t.kind, t.pipeline, t.identity, t.format) for t in store.tables}


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every root of more than two keys is walked."""
    monkeypatch.setattr(objstore, "WALK_FROM", 2)
    monkeypatch.setattr(objstore, "big_logs", lambda page: True)


class Spy:
    """The requests a bucket client makes: (op, key or prefix, after)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        get, lst, dirs = Bucket.get, Bucket.list, Bucket.list_dirs
        spy = self

        def _get(self: Bucket, key: str) -> bytes:
            spy.calls.append(("GET", key, None))
            return get(self, key)

        def _list(self: Bucket, prefix: str, *, after: str | None = None):
            spy.calls.append(("LIST", prefix.rstrip("/"), after))
            return lst(self, prefix, after=after)

        def _dirs(self: Bucket, prefix: str):
            spy.calls.append(("DIRS", prefix.rstrip("/"), None))
            return dirs(self, prefix)

        monkeypatch.setattr(Bucket, "get", _get)
        monkeypatch.setattr(Bucket, "list", _list)
        monkeypatch.setattr(Bucket, "list_dirs", _dirs)

    def lists_under(self, prefix: str) -> list[tuple[str, str, str | None]]:
        """LISTs (recursive or delimiter) of ``prefix`` or anything below it."""
        return [
            c
            for c in self.calls
            if c[0] != "GET" and (c[1] == prefix or c[1].startswith(prefix + "/"))
        ]

    def gets_under(self, prefix: str) -> list[str]:
        """GETs of keys below ``prefix`` (their names relative to it)."""
        return [
            c[1][len(prefix) + 1 :]
            for c in self.calls
            if c[0] == "GET" and c[1].startswith(prefix + "/")
        ]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


def _layout(bucket: str) -> None:
    """Delta tables with and without a checkpoint (named and not), Parquet tables, run records,
    and what is never a table (nested, hidden, ``_result``, no section, inside a foreign Delta
    table)."""
    b = Bucket(f"s3://{bucket}/db")
    url = f"s3://{bucket}"
    for i in range(4):
        _append(f"{url}/{_CK}", [event("RUNNING", T0 + i, subject=f"s{i}")])
    _checkpoint(f"{url}/{_CK}")  # at version 3
    for i in range(2):
        _append(f"{url}/{_CK}", [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    for i in range(3):
        _append(f"{url}/{_NOCK}", [event("FAILED", T0 + 20 + i, error="boom", subject=f"n{i}")])
    for i in range(2):
        _append(f"{url}/{_UNNAMED}", [event("CACHED", T0 + 30 + i, subject=f"u{i}")])
    _checkpoint(f"{url}/{_UNNAMED}")
    rows = [event("SUCCESS", T0 + 40, subject="pq")]
    _put_parquet(b, "db/lab/p/_status/plain/0001795880040000-w-1.parquet", rows)
    _put_parquet(b, "db/lab/p/_status/plain/deeper/d.parquet", rows)  # inside a table
    _put_parquet(b, "db/lab/p/_log/fn/v0/execution_logs/a.parquet", [log_row("r1", T0 + 41)])
    _put_parquet(b, "db/lab/p/_result/fn/e.parquet", rows)  # orcapod's results
    _put_parquet(b, "db/other/f.parquet", rows)  # no section
    _put_parquet(b, "db/lab/p/_status/.tmp/g.parquet", rows)  # hidden
    _append(f"{url}/db/foreign", [{"i": 1}])  # a foreign Delta table above the sections …
    _put_parquet(b, "db/foreign/x/_status/n/execution_status/h.parquet", rows)  # … and inside
    record = {"run_id": "r1", "heartbeat_at": "2026-11-28T10:00:00+00:00", "ended_at": None}
    b.put("db/lab/p/_runs/r1.json", json.dumps(record).encode())
    b.put("db/lab/p/_runs/r2/host-1-abcdef01.json", json.dumps({**record, "run_id": "r2"}).encode())


def _records(update: Any) -> set[tuple[tuple[str, ...], str]]:
    return {(p, r["_record_path"]) for p, recs in update.run_records.items() for r in recs}


def test_the_walk_finds_and_reads_what_the_whole_listing_does(
    tmp_path: Path, s3_server: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _layout(s3_bucket)
    whole = RemoteStore(f"s3://{s3_bucket}/db")
    whole_update = whole.poll()
    with monkeypatch.context() as m:
        m.setattr(objstore, "WALK_FROM", 2)
        m.setattr(objstore, "big_logs", lambda page: True)
        walked = RemoteStore(f"s3://{s3_bucket}/db")
        assert walked.remote.scan().walked
        walked_update = walked.poll()
    download(s3_server, s3_bucket, "db/", tmp_path)
    local = Store(tmp_path)
    local_update = local.poll()
    assert _shape(walked) == _shape(whole) == _shape(local)
    assert len(walked.tables) == 5
    assert _events(walked_update) == _events(whole_update) == _events(local_update)
    assert sum(_events(walked_update).values()) == 4 + 2 + 3 + 2 + 1
    assert _records(walked_update) == _records(whole_update)
    assert {path for _, path in _records(walked_update)} == {
        "lab/p/_runs/r1.json",
        "lab/p/_runs/r2/host-1-abcdef01.json",
    }
    assert not walked.broken and not whole.broken


def test_a_walked_delta_table_lists_neither_its_data_nor_its_log(
    s3_bucket: str, walk: None, spy: Spy
) -> None:
    url = f"s3://{s3_bucket}/{_CK}"
    for i in range(4):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    _checkpoint(url)  # at version 3: commits 0-3 are replaced by it
    for i in range(2):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    spy.calls.clear()
    store = RemoteStore(f"s3://{s3_bucket}/db")
    update = store.poll()
    assert _events(update) == Counter(
        [("RUNNING", f"s{i}") for i in range(4)] + [("SUCCESS", f"s{i}") for i in range(2)]
    )
    assert spy.lists_under(_CK) == []  # no LIST of the data files nor of the log
    log = spy.gets_under(f"{_CK}/_delta_log")
    assert sorted(log) == sorted(
        [
            "_last_checkpoint",
            f"{3:020d}.checkpoint.parquet",
            f"{3:020d}.json",  # there: a missing 4 would have meant the end
            f"{4:020d}.json",
            f"{5:020d}.json",
            f"{6:020d}.json",  # not found: the newest commit is 5
        ]
    )
    ((_, reader),) = store.readers.values()
    assert reader.version == 5 and not store.broken
    # a commit after the cold load: the tail LISTs the log after the last commit key
    spy.calls.clear()
    _append(url, [event("FAILED", T0 + 20, error="boom", subject="s2")])
    assert _events(store.poll(rediscover=False)) == Counter([("FAILED", "s2")])
    assert spy.lists_under(_CK) == [
        ("LIST", f"{_CK}/_delta_log", f"{_CK}/_delta_log/{5:020d}.json")
    ]


def test_a_walked_delta_table_without_a_checkpoint_is_read_from_its_listed_log(
    s3_bucket: str, walk: None, spy: Spy
) -> None:
    url = f"s3://{s3_bucket}/{_NOCK}"
    for i in range(3):
        _append(url, [event("RUNNING", T0 + i, subject=f"n{i}")])
    spy.calls.clear()
    store = RemoteStore(f"s3://{s3_bucket}/db")
    assert _events(store.poll()) == Counter([("RUNNING", f"n{i}") for i in range(3)])
    # _last_checkpoint is not there: the log is listed once (never the data files)
    assert spy.lists_under(_NOCK) == [("LIST", f"{_NOCK}/_delta_log", None)]
    assert not store.broken


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 99, "size": 3}',  # names a checkpoint that is not there
        b"not json",
        b'{"version": -1}',
        b'{"version": true}',
        b'{"version": 3, "parts": 0}',
        b"[3]",
    ],
)
def test_a_wrong_last_checkpoint_falls_back_to_the_listed_log(
    s3_bucket: str, walk: None, content: bytes
) -> None:
    url = f"s3://{s3_bucket}/{_CK}"
    for i in range(4):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    _checkpoint(url)
    _append(url, [event("SUCCESS", T0 + 10, subject="s0")])
    Bucket(f"s3://{s3_bucket}/db").put(f"{_CK}/_delta_log/_last_checkpoint", content)
    store = RemoteStore(f"s3://{s3_bucket}/db")
    assert _events(store.poll()) == Counter(
        [("RUNNING", f"s{i}") for i in range(4)] + [("SUCCESS", "s0")]
    )
    ((_, reader),) = store.readers.values()
    assert reader.version == 4 and not store.broken


def test_a_stale_last_checkpoint_reads_the_commits_after_it(s3_bucket: str, walk: None) -> None:
    """``_last_checkpoint`` naming an older checkpoint (a writer died before updating it):
    that checkpoint and every commit after it are read, each event once."""
    url = f"s3://{s3_bucket}/{_CK}"
    b = Bucket(f"s3://{s3_bucket}/db")
    for i in range(2):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    _checkpoint(url)  # at version 1
    old = b.get(f"{_CK}/_delta_log/_last_checkpoint")
    for i in range(3):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    _checkpoint(url)  # at version 4
    b.put(f"{_CK}/_delta_log/_last_checkpoint", old)
    store = RemoteStore(f"s3://{s3_bucket}/db")
    assert _events(store.poll()) == Counter(
        [("RUNNING", f"s{i}") for i in range(2)] + [("SUCCESS", f"s{i}") for i in range(3)]
    )
    ((_, reader),) = store.readers.values()
    assert reader.version == 4 and not store.broken


def test_a_stale_last_checkpoint_past_a_log_cleanup_reads_the_newest_checkpoint(
    s3_bucket: str, walk: None
) -> None:
    """``_last_checkpoint`` naming an old checkpoint whose commits the log cleanup has removed
    (a newer checkpoint replaced them): commits V and V+1 both missing say so; the log is
    listed and the newest checkpoint read, never the old state as if it were the newest."""
    url = f"s3://{s3_bucket}/{_CK}"
    b = Bucket(f"s3://{s3_bucket}/db")
    for i in range(2):
        _append(url, [event("RUNNING", T0 + i, subject=f"s{i}")])
    _checkpoint(url)  # at version 1
    old = b.get(f"{_CK}/_delta_log/_last_checkpoint")
    for i in range(3):
        _append(url, [event("SUCCESS", T0 + 10 + i, subject=f"s{i}")])
    _checkpoint(url)  # at version 4
    b.delete([f"{_CK}/_delta_log/{v:020d}.json" for v in range(4)])  # cleaned up below 4
    b.put(f"{_CK}/_delta_log/_last_checkpoint", old)
    store = RemoteStore(f"s3://{s3_bucket}/db")
    assert _events(store.poll()) == Counter(
        [("RUNNING", f"s{i}") for i in range(2)] + [("SUCCESS", f"s{i}") for i in range(3)]
    )
    ((_, reader),) = store.readers.values()
    assert reader.version == 4 and not store.broken


def test_rediscovery_finds_a_new_table_without_probing_known_ones(
    s3_bucket: str, walk: None, spy: Spy
) -> None:
    for i in range(2):
        _append(f"s3://{s3_bucket}/{_CK}", [event("RUNNING", T0 + i, subject=f"s{i}")])
    _checkpoint(f"s3://{s3_bucket}/{_CK}")
    store = RemoteStore(f"s3://{s3_bucket}/db")
    store.poll()
    new = "db/lab/p/_status/late/execution_status"
    _append(f"s3://{s3_bucket}/{new}", [event("RUNNING", T0 + 5, subject="late")])
    spy.calls.clear()
    update = store.poll(rediscover=True)
    assert [t.identity for t in update.new_tables] == [("late",)]
    assert _events(update) == Counter([("RUNNING", "late")])
    # the known table is tailed (one LIST after its last commit), not probed or walked again
    assert spy.lists_under(_CK) == [
        ("LIST", f"{_CK}/_delta_log", f"{_CK}/_delta_log/{1:020d}.json")
    ]
    assert spy.gets_under(_CK) == []


def test_a_denied_part_of_a_walked_root_is_named_and_the_rest_shown(
    s3_bucket: str, walk: None, s3_keys_denied_below: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for pipeline in ("open", "secret"):
        url = f"s3://{s3_bucket}/db/{pipeline}/_status/n/execution_status"
        for i in range(2):
            _append(url, [event("SUCCESS", T0 + i, subject=f"{pipeline}{i}")])
        _checkpoint(url)
    key, secret = s3_keys_denied_below(f"{s3_bucket}/db/secret/")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    store = RemoteStore(f"s3://{s3_bucket}/db")
    update = store.poll()
    assert _events(update) == Counter([("SUCCESS", "open0"), ("SUCCESS", "open1")])
    assert {t.pipeline for t in store.tables} == {("open",), ("secret",)}
    assert store.broken and all("/db/secret/" in where for where in store.broken)
    assert any("access denied" in why for why in store.broken.values())
    assert update.problems


def test_a_root_of_many_small_tables_is_listed_whole(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many one-object tables: a walk would cost a request per folder; the root is listed."""
    monkeypatch.setattr(objstore, "WALK_FROM", 4)
    b = Bucket(f"s3://{s3_bucket}/db")
    for k in range(6):
        _put_parquet(
            b,
            f"db/p/_status/n{k}/execution_status/0001795880000000-w-1.parquet",
            [event("SUCCESS", T0, subject=f"t{k}")],
        )
    listing = RemoteStore(f"s3://{s3_bucket}/db").remote.scan()
    assert not listing.walked and len(listing.parquet) == 6


def test_big_logs_is_one_log_holding_half_the_page() -> None:
    def page(keys: list[str]) -> list[dict]:
        return [{"path": k} for k in keys]

    log = [f"r/p/_status/n/execution_status/_delta_log/{v:020d}.json" for v in range(6)]
    data = [f"r/p/_status/m{k}/execution_status/x.parquet" for k in range(6)]
    assert big_logs(page(log))
    assert big_logs(page(log + data))
    assert not big_logs(page(log[:5] + data))
    other = [f"r/p/_status/o/execution_status/_delta_log/{v:020d}.json" for v in range(5)]
    assert not big_logs(page(log[:5] + other + data[:1]))  # two logs, neither half the page
    assert not big_logs([])


def test_last_checkpoint_is_parsed_as_untrusted() -> None:
    assert parse_last_checkpoint(b'{"version": 499, "size": 1000}') == CheckpointHint(499)
    assert parse_last_checkpoint(b'{"version": 7, "parts": 2}') == CheckpointHint(7, 2)
    for bad in (
        b'{"version": "7"}',
        b'{"version": 7.0}',
        b'{"version": 7, "parts": true}',
        b'{"version": 7, "v2Checkpoint": {"path": "x"}}',
        b'{"version": 100000000000000000000}',
        b"\xff",
        b" " * (objstore.MAX_LAST_CHECKPOINT + 1),
    ):
        assert parse_last_checkpoint(bad) is None, bad
    assert CheckpointHint(7, 2).checkpoint_keys("t") == [
        f"t/_delta_log/{7:020d}.checkpoint.{1:010d}.{2:010d}.parquet",
        f"t/_delta_log/{7:020d}.checkpoint.{2:010d}.{2:010d}.parquet",
    ]
    assert CheckpointHint(7).checkpoint_keys("t") == [f"t/_delta_log/{7:020d}.checkpoint.parquet"]


def test_a_folder_that_cannot_be_listed_is_named_and_the_rest_walked(
    s3_bucket: str, walk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LIST refused below the root (a policy on ``s3:prefix``; moto does not enforce one, so
    the client's refusal is injected for that prefix): the folder is named in ``broken`` and
    the update's problems, the other tables and the run records are read, and a later
    rediscovery that can list it again clears the name and finds its table."""
    from observers.objstore import ObjectStoreError

    for pipeline in ("open", "secret"):
        url = f"s3://{s3_bucket}/db/{pipeline}/_status/n/execution_status"
        _append(url, [event("SUCCESS", T0, subject=pipeline)])
        _checkpoint(url)
    record = {"run_id": "r1", "heartbeat_at": "2026-11-28T10:00:00+00:00", "ended_at": None}
    Bucket(f"s3://{s3_bucket}/db").put("db/open/_runs/r1.json", json.dumps(record).encode())
    refused = {"db/secret/_status", "db/open/_runs"}
    dirs, lst = Bucket.list_dirs, Bucket.list

    def list_dirs(self: Bucket, prefix: str):
        if prefix.rstrip("/") in refused:
            raise ObjectStoreError("denied", f"access denied to s3://{s3_bucket}/{prefix}")
        return dirs(self, prefix)

    def list_(self: Bucket, prefix: str, *, after: str | None = None):
        if prefix.rstrip("/") in refused:
            raise ObjectStoreError("denied", f"access denied to s3://{s3_bucket}/{prefix}")
        return lst(self, prefix, after=after)

    monkeypatch.setattr(Bucket, "list_dirs", list_dirs)
    monkeypatch.setattr(Bucket, "list", list_)
    store = RemoteStore(f"s3://{s3_bucket}/db")
    update = store.poll()
    assert _events(update) == Counter([("SUCCESS", "open")])
    assert {t.pipeline for t in store.tables} == {("open",)}
    assert set(store.broken) == {
        f"s3://{s3_bucket}/db/secret/_status",
        f"s3://{s3_bucket}/db/open/_runs",
    }
    assert all("access denied" in why for why in store.broken.values())
    assert len(update.problems) == 2
    # the same refusal again is not a new problem; once listable, the names go and all is read
    assert store.poll().problems == []
    refused.clear()
    again = store.poll()
    assert _events(again) == Counter([("SUCCESS", "secret")])
    assert not store.broken
    assert {r["_record_path"] for recs in again.run_records.values() for r in recs} == {
        "open/_runs/r1.json"
    }
