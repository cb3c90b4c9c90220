"""Timestamps and ids as untrusted input: implausible times skipped with a warning, odd text never
raises, and the vectorised UUID parse agrees with ``uuid.UUID`` on every input."""

from __future__ import annotations

import time
import uuid

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from support.events import T0, event, log_row, table_dir, write_parquet, write_status

from orcatui.store.normalize import normalise_ids, parse_timestamps, uuid_strings_to_bytes
from orcatui.store.store import Store


def test_year_1_and_9999_events_are_skipped_and_named(tmp_path):
    rows = [
        event("FAILED", T0, error="real", subject="a"),
        {**event("RUNNING", T0, subject="b"), "_status_timestamp": "0001-01-01T00:00:00+00:00"},
        {**event("RUNNING", T0, subject="c"), "_status_timestamp": "9999-12-31T23:59:59+00:00"},
        {**event("SUCCESS", T0, subject="d"), "_status_timestamp": "1999-12-31T23:59:59Z"},
    ]
    write_status(tmp_path, "p", ("n",), rows)
    store = Store(tmp_path)
    update = store.poll()
    ((ref, events),) = update.status
    assert events.column("tag:subject").to_pylist() == ["a"]
    (note,) = [p for p in update.problems if "2000-01-01" in p]
    assert str(ref.path) in note and "skipped 3 row(s)" in note
    # the table stays marked (a report over it must not claim all is well), also after a poll
    # that reads it again
    write_status(tmp_path, "p", ("n",), [event("SUCCESS", T0 + 1, subject="e")])
    assert not store.poll().problems
    assert store.broken == {str(ref.path) + "#skipped": note}


def test_more_than_a_day_ahead_is_skipped_a_few_hours_is_kept(tmp_path):
    now = time.time()
    rows = [
        event("RUNNING", now + 3 * 3600, subject="clock skew"),  # a host some hours ahead
        event("RUNNING", now + 10 * 365 * 86400, subject="ten years"),
    ]
    write_status(tmp_path, "p", ("n",), rows)
    update = Store(tmp_path).poll()
    ((_, events),) = update.status
    assert events.column("tag:subject").to_pylist() == ["clock skew"]
    assert any("skipped 1 row(s)" in p for p in update.problems)


def test_log_row_with_implausible_time_is_kept_without_its_time(tmp_path):
    d = table_dir(tmp_path, "p", ("n",), kind="log")
    write_parquet(d, [{**log_row("run1", T0, tb="Traceback"), "_log_timestamp": "0001-01-01"}])
    update = Store(tmp_path).poll()
    ((_, rows),) = update.logs
    assert rows.column("ts").to_pylist() == [None]
    assert rows.column("traceback").to_pylist() == ["Traceback"]
    assert any("cleared the time of 1 row(s)" in p for p in update.problems)


@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=20))
def test_parse_never_raises_on_any_text(values):
    out = parse_timestamps(pa.array(values, pa.string()), len(values))
    assert len(out) == len(values) and out.type == pa.int64()


def test_parse_odd_strings(tmp_path):
    odd = ["", "Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "nan", "\x00", "+"]
    out = parse_timestamps(pa.array(odd), len(odd)).to_pylist()
    assert out[0] is None and out[1] is None and out[4] is None
    assert out[3] < 0  # year 1 parses (and is then skipped by normalisation)


def reference(values: list[str | None]) -> list[bytes | None]:
    """What the per-value ``uuid.UUID`` path gives (the behaviour before vectorising)."""
    out: list[bytes | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        try:
            out.append(uuid.UUID(v).bytes)
        except ValueError:
            out.append(v.encode("utf-8", "replace") if v else None)
    return out


FIXED = [
    str(uuid.uuid4()),
    str(uuid.uuid4()).upper(),
    uuid.uuid4().hex,
    "{" + str(uuid.uuid4()) + "}",
    "urn:uuid:" + str(uuid.uuid4()),
    "0123456789abcdef0123456789abcdeg",  # not hex
    "0123456789abcdef-0123456789abcdef",  # hyphens elsewhere
    "12345678-1234-1234-1234-1234567890a",  # one short
    "٣" * 32,  # digits that int(..., 16) accepts
    "",
    None,
    "Zoë",
]


def test_vectorised_ids_equal_uuid_module_on_valid_and_invalid():
    got = uuid_strings_to_bytes(pa.array(FIXED, pa.string())).to_pylist()
    assert got == reference(FIXED)
    valid = [str(uuid.uuid4()) for _ in range(1000)]
    assert uuid_strings_to_bytes(pa.array(valid)).to_pylist() == [uuid.UUID(v).bytes for v in valid]


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.uuids().map(str),
            st.uuids().map(lambda u: u.hex.upper()),
            st.text(alphabet="0123456789abcdefABCDEFg-{}:nru ", max_size=40),
        ),
        max_size=30,
    )
)
def test_vectorised_ids_property(values):
    arr = pa.array(values, pa.string())
    assert uuid_strings_to_bytes(arr).to_pylist() == reference(values)
    sliced = arr.slice(1) if values else arr  # an array that does not start at offset 0
    assert uuid_strings_to_bytes(sliced).to_pylist() == reference(values[1:])


def test_string_ids_in_a_file_match_binary_ids(tmp_path):
    ids = [uuid.uuid4() for _ in range(5)]
    rows = [
        {**event("RUNNING", T0, subject=str(i)), "_status_id": str(u)} for i, u in enumerate(ids)
    ]
    write_status(tmp_path, "p", ("n",), rows)
    ((_, events),) = Store(tmp_path).poll().status
    assert events.column("id").to_pylist() == [u.bytes for u in ids]
    chunked = pa.chunked_array([pa.array([str(ids[0])]), pa.array([str(ids[1])])])
    assert normalise_ids(chunked, 2).to_pylist() == [ids[0].bytes, ids[1].bytes]
