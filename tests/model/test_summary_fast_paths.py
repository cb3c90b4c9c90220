"""The summary's faster paths give exactly what the general ones give (issue 9, performance).

Each fast path is compared with the straightforward computation it replaced, on generated
packets: the FAILED/LOST lists (only the listed columns taken before ordering), the duration
median/maximum from the triage's sorted durations, display rows' LOST as a state code, packet
keys' escape scans done in blocks, and normalisation's columns kept as one chunk without a copy.
"""

from __future__ import annotations

import gc
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import T0, packet, write_status

from orcatui.model.keys import key_of, packet_keys
from orcatui.model.monitor import Monitor, _run_aggregates
from orcatui.model.packets import (
    _count,
    events_to_packet_rows,
    packet_rows,
    reduce_packet_rows,
)
from orcatui.model.progress import nodes_times
from orcatui.model.report import _listed, build_report, sorted_duration_stats
from orcatui.model.runs import Certainty, Liveness, Verdict
from orcatui.model.states import State
from orcatui.model.views import display_rows, duration_stats, order_rows
from orcatui.store.normalize import normalise_status, whole

T0_US = 1_790_000_000_000_000
RUNS = ["r1", "r2", "r3"]
DEAD = Verdict(Liveness.DEAD, "writer gone", Certainty.CERTAIN)
LIVE = Verdict(Liveness.LIVE, "heartbeat", Certainty.CERTAIN)
TAG_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["s2", "s10", "s02", "a", "", "7", "-1.5", "x\\y", "é"]),
    st.integers(0, 30).map(str),
)
PACKET = st.tuples(
    st.sampled_from(RUNS),
    st.sampled_from([int(s) for s in State if s is not State.LOST]),
    st.one_of(st.none(), st.integers(0, 10**8)),  # running_ts offset (None: start unseen)
    st.integers(0, 10**8),  # ts offset
    TAG_VALUES,
    TAG_VALUES,
)


def _packets(rows: list[tuple], *, null_state: int | None = None) -> pa.Table:
    states = [r[1] for r in rows]
    if null_state is not None and rows:
        states[null_state % len(rows)] = None
    return pa.table(
        {
            "key": [f"k{i}" for i in range(len(rows))],
            "run_id": pa.array([r[0] for r in rows], pa.string()),
            "ts": pa.array([T0_US + r[3] for r in rows], pa.int64()),
            "prio": pa.array([int(r[1] != State.RUNNING) for r in rows], pa.int8()),
            "id": pa.array([b""] * len(rows), pa.binary()),
            "state": pa.array(states, pa.int8()),
            "running_ts": pa.array(
                [None if r[2] is None else T0_US + r[2] for r in rows], pa.int64()
            ),
            "error": pa.array([f"boom {i}" if r[1] == 2 else None for i, r in enumerate(rows)]),
            "tag:subject": pa.array([r[4] for r in rows], pa.string()),
            "tag:session": pa.array([r[5] for r in rows], pa.string()),
        }
    )


def _verdicts(dead: list[bool]) -> dict[str, Verdict]:
    return {r: DEAD if d else LIVE for r, d in zip(RUNS, dead, strict=True)}


def _reference_state(packets: pa.Table, verdicts: dict[str, Verdict]) -> list:
    """Display rows' state and LOST reason as they were computed before (Arrow if_else)."""
    names = pa.array([s.name for s in State], pa.string())
    state = pc.take(names, pc.cast(packets.column("state"), pa.int32()))
    reason = pa.nulls(packets.num_rows, pa.string())
    dead = {r: f"{v.reason} ({v.certainty.value})" for r, v in verdicts.items() if not v.live}
    if dead and packets.num_rows:
        which = pc.index_in(packets.column("run_id"), value_set=pa.array(list(dead)))
        lost = pc.and_(pc.equal(packets.column("state"), int(State.RUNNING)), pc.is_valid(which))
        lost = pc.fill_null(lost, False)
        state = pc.if_else(lost, pa.scalar("LOST"), state)
        reasons = pc.take(pa.array(list(dead.values()), pa.string()), which)
        reason = pc.if_else(lost, reasons, pa.scalar(None, pa.string()))
    return list(zip(state.to_pylist(), reason.to_pylist(), strict=True))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(PACKET, max_size=40),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.one_of(st.none(), st.integers(0, 100)),
)
def test_display_rows_lost_as_a_code_matches_the_arrow_reference(rows, dead, null_state):
    packets = _packets(rows, null_state=null_state)
    verdicts = _verdicts(dead)
    shown = display_rows(packets, verdicts, now=T0_US / 1e6 + 500)
    got = list(zip(shown["state"].to_pylist(), shown["lost_reason"].to_pylist(), strict=True))
    assert got == _reference_state(packets, verdicts)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(PACKET, max_size=60),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.sampled_from(["FAILED", "LOST", "SUCCESS", "RUNNING"]),
)
def test_listed_rows_match_filter_then_order(rows, dead, state):
    shown = display_rows(_packets(rows), _verdicts(dead), now=T0_US / 1e6 + 500)
    columns = ["run_id", "error", "lost_reason", "started_us"]
    tags = ("subject", "session")
    chosen = shown.filter(pc.equal(shown.column("state"), state))
    expected = order_rows(chosen).select([*columns, *tags]).to_pylist() if len(chosen) else []
    assert _listed(shown, state, columns, tags) == expected


def test_listed_rows_of_a_large_node_use_the_arrow_order_and_agree():
    """More than 2,000 rows picked: the vectorised order, not the Python one."""
    rng = np.random.default_rng(3)
    rows = [
        ("r1", 2, 5, 10 + i, f"s{int(rng.integers(0, 400))}", str(int(rng.integers(0, 9))))
        for i in range(2500)
    ]
    shown = display_rows(_packets(rows), _verdicts([False] * 3), now=T0_US / 1e6)
    expected = order_rows(shown).select(["run_id", "error", "subject", "session"]).to_pylist()
    assert _listed(shown, "FAILED", ["run_id", "error"], ("subject", "session")) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(PACKET, max_size=60), st.lists(st.booleans(), min_size=3, max_size=3))
def test_duration_stats_from_sorted_triage_durations(rows, dead):
    shown = display_rows(_packets(rows), _verdicts(dead), now=T0_US / 1e6 + 500)
    (times,) = nodes_times([shown])
    assert sorted_duration_stats(times.durations) == duration_stats(shown)


def test_duration_stats_even_and_odd_counts():
    assert sorted_duration_stats(np.array([], np.float64)) == (None, None)
    assert sorted_duration_stats(np.array([1.0, 2.0, 4.0])) == (2.0, 4.0)
    assert sorted_duration_stats(np.array([1.0, 2.0, 4.0, 9.0])) == (3.0, 9.0)


def test_packet_keys_escape_a_backslash_beyond_the_first_scan_block():
    """The escape scans run in blocks of 256 kB: a backslash (or the separator) that only
    appears far into the column is still escaped."""
    n = 20_000
    runs = ["0192f1c2-7a31-7bbb-8ccc-0123456789ab"] * n  # 36 bytes each: 720 kB in all
    subjects = [f"subject-{i}" for i in range(n)]
    runs[n - 3] = "run\\with\\backslashes"
    subjects[n - 2] = "a\x1fb"
    table = pa.table({"run_id": runs, "tag:subject": subjects})
    keys = packet_keys(table).to_pylist()
    assert keys[n - 3] == key_of(runs[n - 3], {"subject": subjects[n - 3]})
    assert keys[n - 2] == key_of(runs[n - 2], {"subject": "a\x1fb"})
    assert len(set(keys)) == n


def test_whole_keeps_one_chunk_without_a_copy_and_joins_several():
    one = pa.chunked_array([pa.array(["a", "b", None])])
    assert whole(one).buffers()[2].address == one.chunk(0).buffers()[2].address
    assert whole(one).to_pylist() == ["a", "b", None]
    several = pa.chunked_array([pa.array(["a"]), pa.array([None, "c"])])
    assert whole(several).to_pylist() == ["a", None, "c"]
    assert whole(pa.chunked_array([], pa.string())).to_pylist() == []


def test_normalising_one_chunk_and_many_chunks_gives_the_same_events():
    ts = ["2026-11-28T15:13:37.610238+00:00", "2026-11-28T15:13:38+00:00", "bad"]
    raw = pa.table(
        {
            "_status_id": ["0192f1c2-7a31-7bbb-8ccc-0123456789ab", "x", None],
            "_status_run_id": ["r1", "r1", "r1"],
            "_status_pipeline_uri": ["p@1", "p@1", "p@1"],
            "_status_state": ["running", "SUCCESS", "SUCCESS"],
            "_status_timestamp": ts,
            "_status_error_summary": pa.array([None, None, "e"], pa.string()),
            "subject": ["s1", "s1", "s2"],
        }
    )
    split = pa.concat_tables([raw.slice(0, 1), raw.slice(1, 1), raw.slice(2)])
    assert split.column("_status_id").num_chunks == 3
    now = 1_800_000_000.0  # 2027-01-15: the events are in the past
    a, b = normalise_status(raw, "t", now=now), normalise_status(split, "t", now=now)
    assert a.table.to_pylist() == b.table.to_pylist()
    assert a.problems == b.problems and len(a.table) == 2


@settings(max_examples=100, deadline=None)
@given(st.lists(PACKET, min_size=1, max_size=40), st.booleans())
def test_packet_counts_of_one_run_and_of_several_match_the_rows(rows, one_run):
    """``_count``'s one-run shortcut and its general path both count (run, state) pairs."""
    if one_run:
        rows = [("r1", *r[1:]) for r in rows]
    packets = _packets(rows)
    pairs = zip(packets["run_id"].to_pylist(), packets["state"].to_pylist(), strict=True)
    expected = Counter(pairs)
    assert _count(packets) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(PACKET, min_size=1, max_size=40), st.booleans())
def test_run_aggregates_of_one_run_and_of_several_match_the_events(rows, one_run):
    """``_run_aggregates``' one-run shortcut and its general path: per run, first and last
    event time, event count and the first event's pipeline URI."""
    if one_run:
        rows = [("r1", *r[1:]) for r in rows]
    events = _packets(rows).append_column(
        "pipeline_uri", pa.array([f"p@{i % 3}" for i in range(len(rows))], pa.string())
    )
    expected = []
    for run in dict.fromkeys(r[0] for r in rows):
        mine = [i for i, r in enumerate(rows) if r[0] == run]
        times = [T0_US + rows[i][3] for i in mine]
        expected.append((run, min(times), max(times), len(mine), f"p@{mine[0] % 3}"))
    assert _run_aggregates(events) == expected


EVENT = st.tuples(
    st.sampled_from(["r1", "r\\2", "r\x1f3"]),
    st.sampled_from(["RUNNING", "SUCCESS", "FAILED", "CACHED"]),
    st.integers(0, 50),  # ts offset: ties are likely
    st.binary(min_size=16, max_size=16),
    st.one_of(st.none(), st.sampled_from(["a", "b\\", "c\x1fd", "", "7"])),
    st.one_of(st.none(), st.sampled_from(["x", "y", "=z"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENT, max_size=50), st.booleans(), st.sampled_from([0, 1, 2]))
def test_packet_rows_of_one_run_equal_the_general_fold(events, one_run, tags):
    """One run's events keyed by their tags, the run id put in front afterwards: the same
    rows and keys as keying every event by run and tags (in any order: packet rows are
    listed by ``views.order_rows``)."""
    if one_run:
        events = [(events[0][0], *e[1:]) for e in events] if events else []
    columns = {
        "id": pa.array([e[3] for e in events], pa.binary()),
        "run_id": pa.array([e[0] for e in events], pa.string()),
        "pipeline_uri": pa.array(["p@1"] * len(events), pa.string()),
        "state": pa.array([e[1] for e in events], pa.string()),
        "ts": pa.array([T0_US + e[2] for e in events], pa.int64()),
        "error": pa.array([None] * len(events), pa.string()),
    }
    if tags >= 1:
        columns["tag:subject"] = pa.array([e[4] for e in events], pa.string())
    if tags >= 2:
        columns["tag:a=b"] = pa.array([e[5] for e in events], pa.string())
    table = pa.table(columns)
    expected = reduce_packet_rows(events_to_packet_rows(table))
    assert packet_rows(table).sort_by("key").to_pylist() == expected.sort_by("key").to_pylist()


def test_build_report_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    """The report is built with the cyclic collector paused; it is switched back on after
    (also when building fails), and left off if the caller had it off."""
    rows = [
        *packet("r1", T0, T0 + 2, "SUCCESS", subject="s1"),
        *packet("r1", T0 + 1, T0 + 3, "FAILED", "boom", subject="s2"),
    ]
    write_status(tmp_path, "pipe", ("fn",), rows)
    monitor = Monitor(tmp_path, clock=lambda: T0 + 10)
    monitor.refresh()
    assert gc.isenabled()
    report = build_report(monitor)
    assert gc.isenabled()
    assert report["pipelines"][0]["counts"]["FAILED"] == 1
    (pipeline,) = monitor.pipelines
    with pytest.raises(AttributeError):
        build_report(monitor, diffs={pipeline: object()})  # not a RunDiff: fails mid-way
    assert gc.isenabled()
    gc.disable()
    try:
        build_report(monitor)
        assert not gc.isenabled()
    finally:
        gc.enable()
