"""The report's batched paths give exactly what the per-node ones give (issue 9/10 speed).

* :func:`views.row_orders` (the sort keys of distinct tag values computed once for many
  nodes) against :func:`views.row_order` of each node;
* :func:`report._listed_many` (every node's FAILED / LOST rows listed together) against
  :func:`report._listed` of each node;
* :func:`report.first_lines` (a few Arrow passes where exact) against :func:`first_line`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.report import (
    _listed,
    _listed_codes,
    _listed_many,
    _tag_dicts,
    first_line,
    first_lines,
)
from orcatui.model.views import ROW_COLUMNS, row_order, row_orders

TAGS = st.one_of(
    st.none(),
    st.sampled_from(
        ["s2", "s10", "s02", "a", "", "7", "-1.5", " 3 ", "1_0", "nan", "NaN", "inf", "1e400"]
    ),
    st.sampled_from(["x\\y", "é", "s1x2", "10a", "a10b2", "0x1f", "+nan", "2.50", "2.5"]),
    st.integers(0, 30).map(str),
)


@st.composite
def node_rows(draw) -> tuple[pa.Table, tuple[str, ...]]:
    """Display rows of one node: tag columns named per node, some columns all numbers."""
    n = draw(st.integers(0, 25))
    tag_names = draw(st.sampled_from([("subject", "session"), ("session",), (), ("subject",)]))
    numeric = draw(st.booleans())
    values = st.integers(-5, 40).map(str) if numeric else TAGS
    columns = {
        "key": [f"k{i}" for i in range(n)],
        "run_id": draw(st.lists(st.sampled_from(["r1", "r2", "r10"]), min_size=n, max_size=n)),
        "state": pa.array(
            draw(
                st.lists(
                    st.sampled_from(["FAILED", "LOST", "SUCCESS", "RUNNING", None]),
                    min_size=n,
                    max_size=n,
                )
            ),
            pa.string(),
        ),
        "started_us": [1_000 * i for i in range(n)],
        "ts_us": [1_000 * i + 5 for i in range(n)],
        "duration_s": [1.0] * n,
        "error": [f"boom {i}\n  at line {i}" for i in range(n)],
        "lost_reason": ["writer gone"] * n,
    }
    table = pa.table(columns)
    for t in tag_names:
        table = table.append_column(
            t, pa.array(draw(st.lists(values, min_size=n, max_size=n)), pa.string())
        )
    if draw(st.booleans()) and n > 1:  # several chunks, as rows read from files
        table = pa.concat_tables([table.slice(0, n // 2), table.slice(n // 2)])
    return table, tag_names


@settings(max_examples=300, deadline=None)
@given(st.lists(node_rows(), max_size=6))
def test_row_orders_same_as_row_order_per_table(nodes):
    tables = [t for t, _ in nodes]
    cols = [list(t.column_names[len(ROW_COLUMNS) :]) for t in tables]
    got = row_orders(tables, cols)
    for table, c, order in zip(tables, cols, got, strict=True):
        assert order.tolist() == row_order(table, c).tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(node_rows(), max_size=6), st.sampled_from(["FAILED", "LOST"]))
def test_listed_many_same_as_listed_per_node(nodes, state):
    columns = ["run_id", "error"] if state == "FAILED" else ["run_id", "lost_reason", "started_us"]
    codes = [_listed_codes(t) for t, _ in nodes]
    got = _listed_many(nodes, state, columns, codes)
    for (table, tags), listed in zip(nodes, got, strict=True):
        assert listed.to_pylist() == _listed(table, state, columns, tags)


def test_row_orders_of_a_large_table_use_row_order():
    """More than 2,000 rows: ordered by :func:`row_order` itself (its Arrow path)."""
    rng = np.random.default_rng(5)
    n = 2500
    table = pa.table(
        {
            "run_id": ["r1"] * n,
            "subject": [f"s{int(rng.integers(0, 300))}" for _ in range(n)],
        }
    )
    small = table.slice(0, 40)
    got = row_orders([table, small], [["subject"], ["subject"]])
    assert got[0].tolist() == row_order(table, ["subject"]).tolist()
    assert got[1].tolist() == row_order(small, ["subject"]).tolist()


LINES = st.lists(
    st.sampled_from(
        ["", " ", "\t", "a", "b c", "  x  ", "é", "\u2028", "\r", "\x0b", "\x1c", "\xa0"]
    ),
    max_size=6,
).map(lambda parts: "".join(parts))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.none(), LINES, st.text(max_size=30)), max_size=12))
def test_first_lines_same_as_first_line(texts):
    texts = [t if t is None else t.encode("utf-8", "replace").decode() for t in texts]
    texts = [t if t is None else t.replace("|", "\n") for t in texts]
    assert first_lines(pa.array(texts, pa.string())) == [first_line(t) for t in texts]


def test_first_lines_of_sliced_and_chunked_columns():
    texts = ["\n\n  ValueError: x  \n more", None, "\t", "plain", "Zoë\u2028second"] * 3
    column = pa.chunked_array([pa.array(texts[:7]), pa.array(texts[7:])]).slice(1)
    assert first_lines(column) == [first_line(t) for t in texts[1:]]
    assert first_lines(pa.array(texts))[0] == "ValueError: x"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["subject", "session", "s (tag)", "subject"]), max_size=4),
    st.integers(0, 5),
)
def test_tag_dicts_same_as_dict_of_zip(tags, n):
    """Per row ``{tag: value}`` by dict displays: what ``dict(zip(tags, values))`` gives (a
    repeated name keeps its last value, in the first one's place)."""
    tags = tuple(tags)
    values = [[f"{t}{i}" for i in range(n)] for t in tags]
    rows = [[v[i] for v in values] for i in range(n)]
    want = [dict(zip(tags, row, strict=True)) for row in rows]
    got = _tag_dicts(tags, values, n)
    assert got == want and [list(d) for d in got] == [list(d) for d in want]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["r1", "r2", "r3"])), max_size=20),
    st.sampled_from(["r1", "r2", "r9"]),
    st.booleans(),
)
def test_packets_for_view_same_as_filter(runs, run_id, chunked):
    """One run's packets: a slice where its rows are one block, else filtered; the same rows."""
    from orcatui.model.views import packets_for_view

    table = pa.table({"run_id": pa.array(runs, pa.string()), "i": list(range(len(runs)))})
    if chunked and len(runs) > 1:
        table = pa.concat_tables([table.slice(0, len(runs) // 2), table.slice(len(runs) // 2)])
    got = packets_for_view(table, run_id, False)
    want = [r for r in table.to_pylist() if r["run_id"] == run_id]
    assert got.to_pylist() == want
    assert got.schema == table.schema


@settings(max_examples=200, deadline=None)
@given(st.lists(node_rows(), max_size=6))
def test_listed_codes_many_same_as_per_table(nodes):
    from orcatui.model.report import _listed_codes_many

    tables = [t for t, _ in nodes]
    got = _listed_codes_many(tables)
    assert [g.tolist() for g in got] == [_listed_codes(t).tolist() for t in tables]
