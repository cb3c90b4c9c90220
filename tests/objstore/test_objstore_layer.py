"""The object-store layer against a real S3 server (moto, loopback): parsing, listing after a
key, reading Parquet objects, classifying a root, one-line errors, reader-clock liveness."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from observers.objstore import (
    Bucket,
    ObjectStoreError,
    classify,
    is_url,
    local_path,
    obstore_options,
    parse_root,
    parse_storage_options,
)
from orcatui.store.objstore import RemoteRoot, looks_dead


def _parquet(rows: int, start: int = 0) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"i": list(range(start, start + rows))}), sink)
    return sink.getvalue().to_pybytes()


def test_parse_roots() -> None:
    r = parse_root("s3://bkt/a/b/")
    assert (r.scheme, r.bucket, r.prefix) == ("s3", "bkt", "a/b")
    assert r.key("x", "y.parquet") == "a/b/x/y.parquet"
    az = parse_root("abfss://cont@acct.dfs.core.windows.net/p")
    assert az.bucket == "cont"
    # the account stays in the URLs the client and delta-rs are given
    assert az.url("p/t") == "abfss://cont@acct.dfs.core.windows.net/p/t"
    assert parse_root("az://cont/p").url("k") == "az://cont/k"
    assert parse_root("gs://g").prefix == ""
    assert is_url("az://c/x") and not is_url("/tmp/x") and not is_url("file:///tmp/x")
    assert local_path("file:///tmp/x%20y") == "/tmp/x y"
    with pytest.raises(ObjectStoreError):
        parse_root("s3:///nobucket")


def test_storage_options_are_split_for_obstore() -> None:
    opts = parse_storage_options(
        [
            "AWS_ENDPOINT_URL=http://h:1",
            "AWS_ALLOW_HTTP=true",
            "aws_s3_allow_unsafe_rename=true",
            "region=eu-west-1",
        ]
    )
    config, client = obstore_options("s3", opts)
    assert config == {"aws_endpoint": "http://h:1", "aws_region": "eu-west-1"}
    assert client == {"allow_http": True}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_storage_options(["novalue"])


def test_list_after_key_and_read(s3_bucket: str) -> None:
    b = Bucket(f"s3://{s3_bucket}/root")
    keys = [f"root/t/{ms:013d}-w-{ms:08d}.parquet" for ms in (1000, 2000, 3000, 4000)]
    for n, k in enumerate(keys):
        b.put(k, _parquet(5, n * 5))
    after = [o["path"] for o in b.list("root/t", after=keys[1])]
    assert after == keys[2:]
    root = RemoteRoot(f"s3://{s3_bucket}/root")
    tail = root.parquet_tail("root/t")
    first = tail.poll()
    assert [k for k, _ in first.tables] == keys
    assert sum(t.num_rows for _, t in first.tables) == 20
    assert not tail.poll().tables  # nothing new: nothing read again
    b.put("root/t/0000000005000-w-00000005.parquet", _parquet(3, 100))
    again = tail.poll()
    assert [t.column("i").to_pylist() for _, t in again.tables] == [[100, 101, 102]]


def test_time_named_tail_lists_after_the_lag_window(s3_bucket: str) -> None:
    """A table of time-named objects is listed from (newest − lag), not from the start."""
    b = Bucket(f"s3://{s3_bucket}/r")
    old = 1_700_000_000_000
    for n in range(3):
        b.put(f"r/t/{old + n:013d}-w-{n:08d}.parquet", _parquet(1, n))
    newer = old + 10 * 60_000
    b.put(f"r/t/{newer:013d}-w-00000009.parquet", _parquet(1, 9))
    tail = RemoteRoot(f"s3://{s3_bucket}/r").parquet_tail("r/t")
    assert len(tail.poll().tables) == 4
    assert tail._start_after() == f"r/t/{newer - 60_000:013d}"
    b.put(f"r/t/{newer + 5:013d}-x-00000001.parquet", _parquet(1, 10))
    batch = tail.poll()
    assert [t.column("i").to_pylist() for _, t in batch.tables] == [[10]]


def test_foreign_names_fall_back_to_full_listing(s3_bucket: str) -> None:
    b = Bucket(f"s3://{s3_bucket}/r")
    b.put("r/t/part-b.parquet", _parquet(1, 1))
    tail = RemoteRoot(f"s3://{s3_bucket}/r").parquet_tail("r/t")
    assert len(tail.poll().tables) == 1
    b.put("r/t/part-a.parquet", _parquet(1, 2))  # sorts before the one seen
    assert [k for k, _ in tail.poll().tables] == ["r/t/part-a.parquet"]
    b.delete(["r/t/part-b.parquet"])
    assert tail.poll().gone == ["r/t/part-b.parquet"]


def test_scan_classifies_tables_and_records(s3_bucket: str) -> None:
    import deltalake

    b = Bucket(f"s3://{s3_bucket}/db")
    b.put("db/p/_status/n/execution_status/0000000001000-w-00000001.parquet", _parquet(2))
    b.put("db/p/_status/n/execution_status/.tmp.parquet", b"junk")
    b.put("db/p/_runs/r1/w1.json", b"{}")
    b.put("db/p/_runs/old.json", b"{}")
    deltalake.write_deltalake(
        f"s3://{s3_bucket}/db/q/_status/m/execution_status", pa.table({"i": [1, 2]})
    )
    listing = RemoteRoot(f"s3://{s3_bucket}/db").scan()
    assert list(listing.parquet) == ["db/p/_status/n/execution_status"]
    assert listing.delta == ["db/q/_status/m/execution_status"]
    assert sorted(o["path"] for o in listing.records) == [
        "db/p/_runs/old.json",
        "db/p/_runs/r1/w1.json",
    ]
    assert listing.requests == 1


def test_delta_tail_follows_commits_by_listing(s3_bucket: str) -> None:
    import deltalake

    url = f"s3://{s3_bucket}/db/t"
    deltalake.write_deltalake(url, pa.table({"i": [1]}))
    root = RemoteRoot(f"s3://{s3_bucket}/db")
    tail = root.delta_tail("db/t")
    first = tail.poll()
    assert first.reset and first.tables[0][1].column("i").to_pylist() == [1]
    assert not tail.poll().changed
    deltalake.write_deltalake(url, pa.table({"i": [2, 3]}), mode="append")
    deltalake.write_deltalake(url, pa.table({"i": [4]}), mode="append")
    batch = tail.poll()
    assert not batch.reset
    assert sorted(v for _, t in batch.tables for v in t.column("i").to_pylist()) == [2, 3, 4]
    assert tail.version == 2
    deltalake.DeltaTable(url).optimize.compact()  # removes files: reload the snapshot
    batch = tail.poll()
    assert batch.reset
    assert sorted(batch.tables[0][1].column("i").to_pylist()) == [1, 2, 3, 4]


# -- bad input: one line each --------------------------------------------------------------


def _one_line(exc: ObjectStoreError) -> str:
    text = str(exc)
    assert "\n" not in text and 0 < len(text) < 300
    return text


def test_missing_bucket(s3_bucket: str) -> None:
    with pytest.raises(ObjectStoreError) as info:
        RemoteRoot("s3://no-such-bucket-here/x").check()
    assert info.value.kind == "no-bucket"
    assert "no-such-bucket-here" in _one_line(info.value)


@pytest.mark.parametrize("which", ["secret", "key"])
def test_bad_credentials(s3_server, s3_bucket: str, monkeypatch, which: str) -> None:
    if which == "secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    with pytest.raises(ObjectStoreError) as info:
        RemoteRoot(f"s3://{s3_bucket}/x").check()
    assert info.value.kind == "credentials"
    assert "bad credentials" in _one_line(info.value)


def test_access_denied(s3_server, s3_bucket: str, monkeypatch) -> None:
    key_id, secret = s3_server.denied
    with pytest.raises(ObjectStoreError) as info:
        RemoteRoot(
            f"s3://{s3_bucket}/x", {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
        ).check()
    assert info.value.kind == "denied"
    assert _one_line(info.value).startswith("access denied to s3://")


def test_unreachable_endpoint(s3_bucket: str, monkeypatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(ObjectStoreError) as info:
        RemoteRoot(f"s3://{s3_bucket}/x").check()
    assert info.value.kind == "unreachable"
    assert f"127.0.0.1:{port}" in _one_line(info.value)


def test_bad_storage_option_is_one_line(s3_bucket: str) -> None:
    with pytest.raises(ObjectStoreError) as info:
        RemoteRoot(f"s3://{s3_bucket}/x", {"AWS_ENDPOINT_URL": "::not a url::"}).check()
    _one_line(info.value)


# -- run records: liveness by the reader's clock ---------------------------------------------


@pytest.mark.parametrize("skew_min", [5, -5])
def test_heartbeat_liveness_ignores_writer_clock(s3_bucket: str, skew_min: int) -> None:
    b = Bucket(f"s3://{s3_bucket}/db")
    key = "db/p/_runs/r1/host-1-abcd.json"
    writer_now = datetime.now(UTC) + timedelta(minutes=skew_min)
    reader = [1000.0]
    watch = RemoteRoot(f"s3://{s3_bucket}/db").run_records()
    watch.clock = lambda: reader[0]

    def beat(n: int) -> None:
        at = (writer_now + timedelta(seconds=n)).isoformat()
        b.put(
            key,
            json.dumps(
                {"run_id": "r1", "heartbeat_at": at, "heartbeat_interval_s": 1.0, "ended_at": None}
            ).encode(),
        )

    for n in range(5):  # alive: the heartbeat keeps changing while the reader's clock runs
        beat(n)
        (record,) = watch.poll()
        assert not looks_dead(record, reader[0])
        reader[0] += 1.0
    assert record["_record_path"] == "p/_runs/r1/host-1-abcd.json"
    offset = record["_clock_offset_s"]
    assert offset is not None and abs(offset + skew_min * 60) < 30
    # killed: no more beats; dead only after 3 intervals of the reader's own clock
    reader[0] += 1.5  # 2.5 s since the last change was seen
    (record,) = watch.poll()
    assert not looks_dead(record, reader[0])
    reader[0] += 1.0
    (record,) = watch.poll()
    assert looks_dead(record, reader[0])


def test_no_credentials_says_what_to_set() -> None:
    """Without keys the client asks the instance metadata service, which fails off-cloud: the
    message names the variables to set, not the HTTP failure (text as obstore 0.12 words it)."""
    exc = RuntimeError(
        "Generic S3 error: Error performing PUT http://169.254.169.254/latest/api/token in "
        "1.4ms - Server returned non-2xx status code: 403 Forbidden: resolve_deny"
    )
    err = classify(exc, parse_root("s3://bkt/db"))
    assert err.kind == "credentials"
    assert "AWS_ACCESS_KEY_ID" in str(err) and "169.254" not in str(err)


def test_delimiter_listing_counts_every_page(s3_server, s3_bucket: str) -> None:
    """A folder of more than 1,000 entries takes two LIST requests (obstore fetches every
    page): the request counts the idle and load benchmarks print include both."""
    client = s3_server.client()
    for n in range(1001):
        client.put_object(Bucket=s3_bucket, Key=f"r/d/{n:05d}", Body=b"")
    client.put_object(Bucket=s3_bucket, Key="r/one/x", Body=b"")
    b = Bucket(f"s3://{s3_bucket}/r")
    dirs, objects = b.list_dirs("r/d")
    assert dirs == [] and len(objects) == 1001
    assert b.requests["LIST"] == 2
    dirs, objects = b.list_dirs("r")
    assert dirs == ["r/d", "r/one"] and objects == []
    assert b.requests["LIST"] == 3
