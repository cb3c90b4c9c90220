"""Packet keys are injective over arbitrary text, and the Arrow and Python versions agree."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from orcatui.model.keys import key_of, packet_keys

TEXT = st.text(alphabet=st.sampled_from(["a", "b", "1", "=", "\x1f", ":", "0", "é", "\u202e"]))
ANY_TEXT = st.one_of(TEXT, st.text())
TAGS = st.dictionaries(ANY_TEXT, st.one_of(st.none(), ANY_TEXT), max_size=4)
PACKET = st.tuples(st.one_of(st.none(), ANY_TEXT), TAGS)


def _non_null(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if v is not None}


def _table(packets: list[tuple[str | None, dict]]) -> pa.Table:
    names = sorted({k for _, tags in packets for k in tags})
    cols = {"run_id": pa.array([r for r, _ in packets], pa.string())}
    for name in names:
        cols[f"tag:{name}"] = pa.array([tags.get(name) for _, tags in packets], pa.string())
    return pa.table(cols)


@settings(max_examples=400)
@given(PACKET, PACKET)
def test_key_of_is_injective(a, b):
    (ra, ta), (rb, tb) = a, b
    same = (ra or "") == (rb or "") and _non_null(ta) == _non_null(tb)
    assert (key_of(ra, ta) == key_of(rb, tb)) == same
    assert (key_of(ra, ta, with_run=False) == key_of(rb, tb, with_run=False)) == (
        _non_null(ta) == _non_null(tb)
    )


@settings(max_examples=200)
@given(st.lists(PACKET, max_size=8))
def test_packet_keys_agree_with_key_of_row_by_row(packets):
    table = _table(packets)
    keys = packet_keys(table).to_pylist()
    assert len(keys) == len(packets)
    assert keys == [key_of(r, t) for r, t in packets]
    tag_only = packet_keys(table, with_run=False).to_pylist()
    assert tag_only == [key_of(r, t, with_run=False) for r, t in packets]
    prefixed = packet_keys(table, with_run=False, prefix="run\\1").to_pylist()
    assert prefixed == ["run\\1" + k for k in tag_only]


def test_known_collisions_of_the_old_separator_scheme_are_distinct():
    assert key_of("r", {"a": "1", "b": "2"}) != key_of("r", {"a": "1\x1fb=2"})
    assert key_of("r", {"x": "1=y"}) != key_of("r", {"x=1": "y"})
    assert key_of("r", {"a": ""}) != key_of("r", {})
    assert key_of("r\x1fa=1", {}) != key_of("r", {"a": "1"})


def test_null_tag_and_missing_column_key_alike():
    with_null = pa.table({"run_id": ["r"], "tag:a": ["1"], "tag:b": pa.array([None], pa.string())})
    without = pa.table({"run_id": ["r"], "tag:a": ["1"]})
    assert packet_keys(with_null).to_pylist() == packet_keys(without).to_pylist()


def test_all_tags_null_rows_keep_one_key_each():
    """pyarrow's null_handling="skip" dropped rows when every tag was null (issue 8 item 9)."""
    t = pa.table(
        {
            "run_id": ["r1", "r2", "r3"],
            "tag:a": pa.array([None, None, "x"], pa.string()),
            "tag:b": pa.array([None, None, None], pa.string()),
        }
    )
    assert len(packet_keys(t, with_run=False)) == 3
    assert len(packet_keys(t)) == 3


def test_state_names_sit_at_their_codes():
    import pyarrow.compute as pc

    from orcatui.model.states import State, state_names

    names = state_names()
    assert names.to_pylist() == [s.name for s in sorted(State, key=int)]
    codes = pc.index_in(pa.array([s.name for s in State]), names).to_pylist()
    assert codes == [int(s) for s in State]
