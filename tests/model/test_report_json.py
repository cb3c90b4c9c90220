"""``summary --json``'s encoded path writes exactly what ``json.dumps`` writes of the report.

* :func:`report._failed_encoded` (every node's FAILED entries encoded by Arrow passes into one
  buffer) against ``json.dumps`` of :func:`report._failed_json`'s dicts, on hostile values
  (quotes, backslashes, control characters, non-ASCII, nulls, numbers, booleans, floats, a tag
  missing from a node's rows, nodes of different columns);
* :func:`report.first_lines_array` against :func:`first_line`;
* :func:`report.report_json` / :func:`report.write_report_json` of a report built with
  ``encoded=True`` against ``json.dumps`` of the plain report, on written roots and on the real
  orcapod failure sample, to UTF-8 and other streams.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import T0, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.report import (
    EncodedList,
    _column_lists,
    _failed_encoded,
    _failed_json,
    _first_lines_arrays,
    _first_lines_of,
    build_report,
    first_line,
    first_lines_array,
    report_json,
    write_report_json,
)

SAMPLES = Path("/work/shared/orcapod-samples")
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "plain",
        'say "hi"',
        "back\\slash",
        "two\nlines",
        "\ttab",
        "ctrl\x01\x1f",
        "Zoë Müller",
        "患者 7",
        "bidi\u202eevil",
        "sep\u2028x",
        "del\x7f",
        " padded ",
        "trailing ",
        "\n\n  later line  \n",
        "'quoted' /data/sub-01/a.nii",
    ]
)
TEXT = st.one_of(st.none(), HOSTILE, st.text(max_size=20))


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, check_circular=False)


def _clean(texts: list[str | None]) -> list[str | None]:
    """Texts as Arrow keeps them (valid UTF-8: lone surrogates replaced)."""
    return [t if t is None else t.encode("utf-8", "replace").decode() for t in texts]


@st.composite
def failed_tables(draw) -> tuple[pa.Table, tuple[str, ...]]:
    """A node's listed FAILED rows (``run_id``, ``error``, its tags present) and its tags."""
    n = draw(st.integers(0, 8))
    tags = draw(st.sampled_from([("subject", "session"), ("session",), (), ("a", "b", "c")]))
    columns = {
        "run_id": pa.array(
            _clean(
                draw(
                    st.lists(
                        st.one_of(st.none(), st.sampled_from(["r1", 'r"2'])), min_size=n, max_size=n
                    )
                )
            ),
            pa.string(),
        ),
        "error": pa.array(_clean(draw(st.lists(TEXT, min_size=n, max_size=n))), pa.string()),
    }
    kinds = {
        "str": st.lists(TEXT, min_size=n, max_size=n).map(
            lambda v: pa.array(_clean(v), pa.string())
        ),
        "int": st.lists(
            st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=n, max_size=n
        ).map(lambda v: pa.array(v, pa.int64())),
        "bool": st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n).map(
            lambda v: pa.array(v, pa.bool_())
        ),
        "float": st.lists(
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
            min_size=n,
            max_size=n,
        ).map(lambda v: pa.array(v, pa.float64())),
        "nonull": st.lists(HOSTILE, min_size=n, max_size=n).map(lambda v: pa.array(v, pa.string())),
    }
    for tag in tags:
        if draw(st.integers(0, 5)) == 0:
            continue  # a tag the node's rows do not have: null in every entry
        columns[tag] = draw(kinds[draw(st.sampled_from(sorted(kinds)))])
    table = pa.table(columns)
    if draw(st.booleans()) and n > 1:  # several chunks
        table = pa.concat_tables([table.slice(0, n // 2), table.slice(n // 2)])
    return table, tags


def _nan_safe(text: str):
    """The decoded JSON, NaN made comparable (json writes NaN for a float NaN)."""
    return json.loads(text, parse_constant=lambda c: f"<{c}>")


@settings(max_examples=400, deadline=None)
@given(st.lists(failed_tables(), max_size=5))
def test_failed_encoded_same_as_json_of_failed_json(nodes):
    tables = [t for t, _ in nodes]
    got = _failed_encoded(tables, [tags for _, tags in nodes], _first_lines_arrays(tables))
    firsts = _first_lines_of(tables)
    for (table, tags), encoded, first, lists in zip(
        nodes, got, firsts, _column_lists(tables), strict=True
    ):
        want = _dumps(_failed_json(table, tags, first, lists))
        assert isinstance(encoded, EncodedList)
        assert encoded.text == want
        assert len(encoded) == table.num_rows
        assert _nan_safe(encoded.text) == _nan_safe(want)


LINES = st.lists(
    st.sampled_from(["", " ", "\t", "a", "b c", "  x  ", "é", "\u2028", "\r", "\x0b", "\xa0", "|"]),
    max_size=6,
).map(lambda parts: "".join(parts).replace("|", "\n"))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.none(), LINES, HOSTILE, st.text(max_size=30)), max_size=12))
def test_first_lines_array_same_as_first_line(texts):
    texts = _clean(texts)
    assert first_lines_array(pa.array(texts, pa.string())).to_pylist() == [
        first_line(t) for t in texts
    ]


def test_first_lines_array_of_sliced_and_chunked_columns():
    texts = ["\n\n  ValueError: x  \n more", None, "\t", "plain", "Zoë\u2028second", "a "] * 3
    column = pa.chunked_array([pa.array(texts[:7]), pa.array(texts[7:])]).slice(1)
    assert first_lines_array(column).to_pylist() == [first_line(t) for t in texts[1:]]
    plain = pa.array(["ValueError: x", "b", None, ""])
    same = first_lines_array(plain)  # nothing to change: the very texts, not copied
    assert same.equals(plain) and same.buffers()[2].address == plain.buffers()[2].address


def _root(tmp_path: Path) -> Path:
    """Two nodes (one with two tags, one with one), FAILED packets with hostile errors."""
    errors = ['bad "x" at C:\\data', "two\nlines", "Zoë \x01", None, "plain"]
    for node, tags in (("load", {"subject": "s", "session": "1"}), ("fit", {"subject": "s"})):
        events = []
        for i, err in enumerate(errors * 3):
            t = {k: f"{v}{i}" for k, v in tags.items()}
            state = "FAILED" if i % 4 else "SUCCESS"
            events += packet("r1", T0 + i, T0 + i + 0.5, state, err if i % 4 else None, **t)
        write_status(tmp_path, "pipe", (node, "v0"), events)
    return tmp_path


def _same_as_json_dumps(monitor: Monitor, now: float) -> str:
    plain = _dumps(build_report(monitor, now=now))
    encoded = build_report(monitor, now=now, encoded=True)
    assert report_json(encoded) == plain
    return plain


def test_report_json_same_as_json_dumps_of_the_report(tmp_path):
    root = _root(tmp_path)
    monitor = Monitor(root, clock=lambda: T0 + 100, stale_after=3600)
    monitor.refresh()
    text = _same_as_json_dumps(monitor, T0 + 100)
    failed = [f for p in json.loads(text)["pipelines"] for n in p["nodes"] for f in n["failed"]]
    assert len(failed) == 22 and {f["error"] for f in failed} >= {"two\nlines", None}


@pytest.mark.skipif(not (SAMPLES / "failures").exists(), reason="orcapod samples absent")
def test_report_json_of_the_orcapod_failure_sample():
    monitor = Monitor(SAMPLES / "failures", stale_after=300)
    monitor.refresh()
    text = _same_as_json_dumps(monitor, monitor.clock())
    assert any(n["failed"] for p in json.loads(text)["pipelines"] for n in p["nodes"])


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-16"])
def test_write_report_json_to_streams(tmp_path, encoding):
    """Bytes straight to a UTF-8 stream's buffer, text to any other: the same JSON."""
    root = _root(tmp_path)
    monitor = Monitor(root, clock=lambda: T0 + 100, stale_after=3600)
    monitor.refresh()
    plain = build_report(monitor, now=T0 + 100)
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, newline="")
    stream.write("before:")  # text written first stays first
    write_report_json(build_report(monitor, now=T0 + 100, encoded=True), stream)
    stream.flush()
    assert raw.getvalue().decode(encoding) == "before:" + _dumps(plain) + "\n"


def test_encoded_list_of_no_rows():
    empty = EncodedList(b"", 0)
    assert empty.text == "[]" and empty.to_list() == [] and len(empty) == 0
