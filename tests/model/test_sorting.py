"""Sorting and search of the packet table (issue 10, item 5)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from support.events import T0, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.sorting import (
    running_longest,
    search_mask,
    search_rows,
    search_words,
    sort_rows,
)


def table(**tags) -> pa.Table:
    n = len(next(iter(tags.values())))
    cols = {
        "key": [f"k{i}" for i in range(n)],
        "run_id": ["r1"] * n,
        "state": ["SUCCESS"] * n,
        "started_us": list(range(n)),
        "ts_us": list(range(n)),
        "duration_s": [1.0] * n,
        "error": pa.nulls(n, pa.string()),
        "lost_reason": pa.nulls(n, pa.string()),
    }
    for k, v in tags.items():
        cols[k] = v
    return pa.table(cols)


def keys(t: pa.Table) -> list[str]:
    return t.column("key").to_pylist()


def test_numeric_tags_sort_as_numbers_nulls_last_both_ways():
    t = table(session=["10", "2", None, "-1.5", " 3 ", "2"])
    assert keys(sort_rows(t, "session")) == ["k3", "k1", "k5", "k4", "k0", "k2"]
    assert keys(sort_rows(t, "session", descending=True)) == ["k0", "k4", "k1", "k5", "k3", "k2"]


def test_text_tags_sort_in_natural_order_case_insensitive():
    t = table(subject=["s10", "S2", "s1", None, "s2b", "patient 7", "s01", "Zoë", "患者 3"])
    assert sort_rows(t, "subject").column("subject").to_pylist() == [
        "patient 7",
        "s01",  # equal to s1 by value: the text breaks the tie
        "s1",
        "S2",
        "s2b",
        "s10",
        "Zoë",
        "患者 3",
        None,
    ]
    down = sort_rows(t, "subject", descending=True).column("subject").to_pylist()
    assert down[:3] == ["患者 3", "Zoë", "s10"] and down[-1] is None


def test_natural_order_with_several_numbers_and_huge_ones():
    values = ["run1_chunk10", "run1_chunk2", "run10_chunk1", "run2_chunk1", "x" + "9" * 30, "x12"]
    t = table(v=values)
    assert sort_rows(t, "v").column("v").to_pylist() == [
        "run1_chunk2",
        "run1_chunk10",
        "run2_chunk1",
        "run10_chunk1",
        "x12",
        "x" + "9" * 30,
    ]


def test_state_sorts_by_severity_and_slow_flag_ranks_between_failed_and_running():
    t = table(s=list("abcdef"))
    t = t.set_column(
        2, "state", pa.array(["SUCCESS", "RUNNING", "LOST", "CACHED", "RUNNING", "FAILED"])
    )
    assert keys(sort_rows(t, "state")) == ["k2", "k5", "k1", "k4", "k3", "k0"]
    slow = np.array([False, False, False, False, True, False])
    assert keys(sort_rows(t, "state", slow=slow)) == ["k2", "k5", "k4", "k1", "k3", "k0"]
    assert keys(sort_rows(t, "state", descending=True)) == ["k0", "k3", "k1", "k4", "k5", "k2"]


def test_sort_is_stable():
    t = table(g=["b", "a", "b", "a", "b"])
    assert keys(sort_rows(t, "g")) == ["k1", "k3", "k0", "k2", "k4"]
    assert keys(sort_rows(t, "g", descending=True)) == ["k0", "k2", "k4", "k1", "k3"]
    with pytest.raises(KeyError):
        sort_rows(t, "nope")


def test_sort_real_rows_by_duration_and_started(tmp_path):
    rows = packet("r1", T0, T0 + 5, "SUCCESS", subject="a")
    rows += packet("r1", T0 + 1, T0 + 2, "FAILED", "boom", subject="b")
    rows += packet("r1", T0 + 2, None, "", subject="c")
    rows += packet("r1", T0 + 3, T0 + 3.5, "CACHED", subject="d")
    write_status(tmp_path, "etl", ("n",), rows)
    m = Monitor(tmp_path, stale_after=10**9)
    m.refresh()
    t = m.packet_rows((("etl",), ("n",)), now=T0 + 100)
    by = lambda col, **kw: sort_rows(t, col, **kw).column("subject").to_pylist()  # noqa: E731
    assert by("duration_s", descending=True) == ["c", "a", "b", "d"]  # c runs for 98 s
    assert by("started_us") == ["a", "b", "c", "d"]
    assert by("error") == ["b", "a", "c", "d"]  # nulls last, stable
    assert running_longest(t).column("subject").to_pylist()[0] == "c"


def test_running_longest_puts_oldest_running_first():
    t = table(s=list("abcd"))
    t = t.set_column(2, "state", pa.array(["SUCCESS", "RUNNING", "FAILED", "RUNNING"]))
    t = t.set_column(3, "started_us", pa.array([5, 30, 1, 10]))
    assert keys(running_longest(t)) == ["k3", "k1", "k0", "k2"]


def test_search_words_and_case_across_tags_error_state():
    t = table(subject=["Zoë Müller", "bob", "ALICE", "bob"], session=["1", "2", "3", "12"])
    t = t.set_column(6, "error", pa.array([None, "FileNotFoundError: /data/x", None, None]))
    t = t.set_column(2, "state", pa.array(["SUCCESS", "FAILED", "RUNNING", "SUCCESS"]))
    assert keys(search_rows(t, "zoë")) == ["k0"]
    assert keys(search_rows(t, "bob failed")) == ["k1"]  # two words ANDed: tag and state
    assert keys(search_rows(t, "bob 2")) == ["k1", "k3"]  # "2" in session 2 and 12
    assert keys(search_rows(t, "notfound /DATA")) == ["k1"]  # error text
    assert keys(search_rows(t, "running alice")) == ["k2"]
    assert keys(search_rows(t, '"zoë müller"')) == ["k0"]  # a quoted phrase
    assert keys(search_rows(t, "bob alice")) == []
    assert keys(search_rows(t, "   ")) == ["k0", "k1", "k2", "k3"]
    assert search_words('a "b c" \x1b[31m') == ["a", "b c", "\x1b[31m"]
    assert search_mask(t, "r1").to_pylist() == [False] * 4  # run id is not searched


def test_search_hostile_and_regex_characters_are_literal():
    t = table(subject=["a.*b", "axb", "(x", "\x1b[31mred"])
    assert keys(search_rows(t, ".*")) == ["k0"]
    assert keys(search_rows(t, "(")) == ["k2"]
    assert keys(search_rows(t, "\x1b[31m")) == ["k3"]


def test_empty_rows():
    t = table(s=["x"]).slice(0, 0)
    assert sort_rows(t, "s").num_rows == 0 and running_longest(t).num_rows == 0
    assert search_rows(t, "x").num_rows == 0
