"""Folding events into packets: order- and batching-independent, idempotent, tie rules."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import T0, event

from orcatui.model.packets import NodePackets
from orcatui.store.normalize import normalise_status

STATES = ["RUNNING", "SUCCESS", "FAILED", "CACHED"]


def norm(rows) -> pa.Table:
    return normalise_status(pa.Table.from_pylist(rows)).table


def state_of(node: NodePackets) -> dict[str, tuple[int, int | None, str | None]]:
    t = node.table().to_pylist()
    return {r["key"]: (r["state"], r["running_ts"], r["error"]) for r in t}


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["r1", "r2"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(STATES),
        st.integers(0, 20),  # seconds after T0: collisions exercise the tie rules
    ),
    min_size=1,
    max_size=60,
)


def build(spec) -> list[dict]:
    return [
        event(s, T0 + t, run=r, error=f"err {s} {t}" if s == "FAILED" else None, subject=tag)
        for r, tag, s, t in spec
    ]


@settings(max_examples=150, deadline=None)
@given(
    events_strategy, st.randoms(use_true_random=False), st.lists(st.integers(1, 10), max_size=10)
)
def test_any_split_and_order_gives_the_same_model(spec, rnd, cuts):
    rows = build(spec)
    # 100 unrelated packets first, so that small batches take the incremental (overlay) path.
    filler = norm([event("SUCCESS", T0, run="r0", subject=str(i)) for i in range(100)])
    whole = NodePackets()
    whole.fold(filler)
    whole.fold(norm(rows))

    shuffled = rows[:]
    rnd.shuffle(shuffled)
    split = NodePackets()
    split.fold(filler)
    i = 0
    for c in cuts:
        if i >= len(shuffled):
            break
        split.fold(norm(shuffled[i : i + c]))
        i += c
    if i < len(shuffled):
        split.fold(norm(shuffled[i:]))
    assert state_of(split) == state_of(whole)
    assert +split.counts == +whole.counts

    # Folding everything again changes nothing (event ids are unique, folding is idempotent).
    split.fold(norm(rows))
    assert state_of(split) == state_of(whole)
    assert +split.counts == +whole.counts


def test_small_folds_into_large_node_are_incremental():
    node = NodePackets()
    node.fold(norm([event("RUNNING", T0, subject=str(i)) for i in range(1000)]))
    base = node.table()
    node.fold(
        norm([event("SUCCESS", T0 + 5, subject="7"), event("RUNNING", T0 + 6, subject="new")])
    )
    # The base table was not rebuilt for a small fold: the change waits in the overlay.
    assert node._base is base and len(node._overlay) == 2
    rows = {r["key"]: r for r in node.table().to_pylist()}
    assert rows["run1\x1fsubject=7"]["state"] == 1  # SUCCESS
    assert rows["run1\x1fsubject=7"]["running_ts"] == int(T0 * 1e6)
    assert "run1\x1fsubject=new" in rows and len(rows) == 1001
    assert node.counts[("run1", 0)] == 1000 and node.counts[("run1", 1)] == 1


def test_terminal_wins_tie_with_running():
    node = NodePackets()
    node.fold(norm([event("SUCCESS", T0, subject="x"), event("RUNNING", T0, subject="x")]))
    (row,) = node.table().to_pylist()
    assert row["state"] == 1


def test_latest_event_wins_regardless_of_arrival():
    node = NodePackets()
    node.fold(norm([event("FAILED", T0 + 2, error="boom", subject="x")]))
    node.fold(norm([event("RUNNING", T0 + 1, subject="x")]))
    (row,) = node.table().to_pylist()
    assert row["state"] == 2 and row["error"] == "boom"
    assert row["running_ts"] == int((T0 + 1) * 1e6)  # duration = FAILED - RUNNING


def test_schema_drift_tag_column_appearing_later():
    node = NodePackets()
    node.fold(norm([event("RUNNING", T0, subject="x")] * 1 + [event("RUNNING", T0, subject="y")]))
    node.fold(norm([event("SUCCESS", T0 + 1, subject="x", session="2")]))
    rows = node.table().to_pylist()
    assert len(rows) == 3  # (x), (y), (x, session=2) are different packets
    assert node.tag_names == ["subject", "session"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # state code
            st.integers(-(2**62), 2**62),  # ts µs
            st.one_of(st.none(), st.integers(-(2**62), 2**62)),  # running_ts µs
        ),
        max_size=30,
    ),
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=T0 - 1e6, max_value=T0 + 1e6),
    ),
)
def test_numpy_durations_equal_the_arrow_reference(rows, now):
    """Durations computed in numpy equal the Arrow kernels' (clamping, too long, no start)."""
    from orcatui.model.views import _durations, _durations_arrow

    table = pa.table(
        {
            "state": pa.array([r[0] for r in rows], pa.int8()),
            "ts": pa.array([r[1] for r in rows], pa.int64()),
            "running_ts": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    assert _durations(table, now).to_pylist() == _durations_arrow(table, now).to_pylist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**62), 2**62), max_size=40),
    st.lists(st.booleans(), max_size=40),
)
def test_from_numpy_equals_pa_array(values, nulls):
    import numpy as np

    from orcatui.model.packets import from_numpy

    arr = np.array(values, np.int64)
    mask = np.array((nulls + [False] * len(values))[: len(values)], bool)
    assert from_numpy(arr).equals(pa.array(arr, pa.int64()))
    assert from_numpy(arr, null=mask).equals(pa.array(arr, pa.int64(), mask=mask))
    floats = arr.astype(np.float64) / 7
    got = from_numpy(floats, pa.float64(), null=mask)
    assert got.equals(pa.array(floats, pa.float64(), mask=mask))
    assert got.null_count == int(mask.sum())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=64) | st.integers(-5, 5),
        min_size=1,
        max_size=25,
    )
)
def test_median_equals_numpy_median(values):
    import math

    import numpy as np

    from orcatui.model.views import median

    arr = np.array(values, np.float64)
    want = float(np.median(arr))
    got = median(arr)
    assert (math.isnan(want) and math.isnan(got)) or got == want


_TAG_VALUES = st.sampled_from(["a", "b", "", "a\\", "a\x1fb", "s2", "s10", "ü", None])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            _TAG_VALUES,
            _TAG_VALUES,
            st.sampled_from(STATES),
            st.integers(0, 6),  # few distinct times: ties on (ts, prio) are common
            st.booleans(),  # whether the event id is unique (else a repeated one: a full tie)
        ),
        min_size=1,
        max_size=50,
    ),
    st.booleans(),
)
def test_one_run_rows_equal_the_general_fold(spec, second_tag):
    """The one-run path (tag codes, keys built after reducing) chooses the same row per packet,
    with the same columns and values, as the general key-based fold."""
    from orcatui.model.packets import (
        _one_run_rows,
        events_to_packet_rows,
        packet_rows,
        reduce_packet_rows,
    )

    rows = []
    for i, (subject, session, state, t, unique) in enumerate(spec):
        tags = {"subject": subject, **({"session": session} if second_tag else {})}
        row = event(state, T0 + t, run="r\\1", error=f"e{i}" if state == "FAILED" else None, **tags)
        if not unique:
            row["_status_id"] = b"\x01\x90" + bytes(14)  # 16 bytes, as every other id
        rows.append(row)
    events = norm(rows)
    general = reduce_packet_rows(events_to_packet_rows(events)).sort_by("key")
    fast = _one_run_rows(events, "r\\1")
    assert fast is not None
    assert fast.schema == general.schema
    assert fast.sort_by("key").to_pylist() == general.to_pylist()
    assert packet_rows(events).sort_by("key").to_pylist() == general.to_pylist()


def test_one_run_rows_leave_ids_of_mixed_lengths_to_the_general_fold():
    """A full tie between a 16-byte id and a 36-byte one is left to the general fold (its Arrow
    sort compares the ids as bytes), which gives the same packets."""
    from orcatui.model.packets import (
        _one_run_rows,
        events_to_packet_rows,
        packet_rows,
        reduce_packet_rows,
    )

    rows = [event("RUNNING", T0, run="r1", subject="a") for _ in range(2)]
    rows[0]["_status_id"] = b"0190a000-0000-7000-8000-000000000000"
    events = norm(rows)
    assert _one_run_rows(events, "r1") is None
    general = reduce_packet_rows(events_to_packet_rows(events))
    assert packet_rows(events).to_pylist() == general.to_pylist()
