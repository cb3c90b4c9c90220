""":func:`views.display_rows_many` (every node's display rows made together) gives exactly
:func:`views.display_rows` of each node; :func:`progress.packets_times` (times derived from
packet rows, no display rows made) gives exactly :func:`progress.nodes_times` of the display
rows; the monitor's rows agree with the triage's times."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.events import T0, packet, write_status

from orcatui.model.monitor import Monitor
from orcatui.model.progress import SortedDurations, nodes_times, packets_times
from orcatui.model.report import build_report
from orcatui.model.runs import Certainty, Liveness, Verdict
from orcatui.model.slow import slow_packets
from orcatui.model.states import State
from orcatui.model.views import View, display_rows, display_rows_many

T0_US = 1_790_000_000_000_000
RUNS = ["r1", "r2", "r3"]
DEAD = Verdict(Liveness.DEAD, "writer gone", Certainty.CERTAIN)
LIVE = Verdict(Liveness.LIVE, "heartbeat", Certainty.CERTAIN)
#: A dead run whose last sign of life is known: its LOST packets' durations end there.
STOPPED = Verdict(Liveness.DEAD, "writer gone", Certainty.CERTAIN, stopped_at=T0_US / 1e6 + 30.25)
VERDICTS = {"live": LIVE, "dead": DEAD, "stopped": STOPPED}
ROW = st.tuples(
    st.one_of(st.none(), st.sampled_from(RUNS)),
    st.one_of(st.none(), st.sampled_from([int(s) for s in State if s is not State.LOST])),
    st.one_of(st.none(), st.integers(0, 10**8)),  # running_ts offset (None: start unseen)
    st.one_of(st.integers(-(10**8), 10**8), st.just(10**18)),  # ts offset (huge: too long)
    st.one_of(st.none(), st.sampled_from(["s1", "s2", "é"])),
)


@st.composite
def tables(draw) -> pa.Table:
    rows = draw(st.lists(ROW, max_size=12))
    nulls = draw(st.booleans())
    states = [r[1] if nulls or r[1] is not None else int(State.SUCCESS) for r in rows]
    ts = [T0_US + r[3] for r in rows]
    if draw(st.integers(0, 6)) == 0 and rows:
        ts[0] = None  # an end time unknown: this table is made on its own
    columns = {
        "key": [f"k{i}" for i in range(len(rows))],
        "run_id": pa.array([r[0] for r in rows], pa.string()),
        "ts": pa.array(ts, pa.int64()),
        "state": pa.array(states, pa.int8()),
        "running_ts": pa.array([None if r[2] is None else T0_US + r[2] for r in rows], pa.int64()),
        "error": pa.array([f"boom {i}" for i in range(len(rows))], pa.string()),
    }
    for tag in draw(st.sampled_from([("subject",), ("subject", "session"), ()])):
        columns[f"tag:{tag}"] = pa.array([r[4] for r in rows], pa.string())
    table = pa.table(columns)
    if draw(st.booleans()) and len(rows) > 1:  # several chunks
        table = pa.concat_tables([table.slice(0, len(rows) // 2), table.slice(len(rows) // 2)])
        if draw(st.booleans()):  # the start times in one chunk: the columns' chunks differ
            at = table.schema.get_field_index("running_ts")
            whole = table.column("running_ts").combine_chunks()
            table = table.set_column(at, "running_ts", pa.chunked_array([whole]))
    return table


#: Some nodes' packet rows, each run's verdict (a key of VERDICTS), and the reader's clock.
NODES = given(
    st.lists(tables(), max_size=6),
    st.lists(st.sampled_from(sorted(VERDICTS)), min_size=3, max_size=3),
    st.sampled_from([T0_US / 1e6, T0_US / 1e6 + 50.5]),
)


@settings(max_examples=300, deadline=None)
@NODES
def test_display_rows_many_same_as_display_rows(given_tables, dead, now):
    verdicts = {r: VERDICTS[d] for r, d in zip(RUNS, dead, strict=True)}
    got = display_rows_many(given_tables, verdicts, now)
    assert len(got) == len(given_tables)
    for table, rows in zip(given_tables, got, strict=True):
        want = display_rows(table, verdicts, now)
        assert rows.schema == want.schema
        assert rows.to_pylist() == want.to_pylist()


def _same_times(got, want) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.counts == w.counts
        for field in ("durations", "done_ts_us", "running_started_us", "running_rows"):
            np.testing.assert_array_equal(getattr(g, field), getattr(w, field), err_msg=field)


@settings(max_examples=300, deadline=None)
@NODES
def test_packets_times_same_as_times_of_display_rows(given_tables, dead, now):
    verdicts = {r: VERDICTS[d] for r, d in zip(RUNS, dead, strict=True)}
    want = nodes_times([display_rows(t, verdicts, now) for t in given_tables])
    _same_times(packets_times(given_tables, verdicts, now), want)
    # with kept sorted durations (the monitor's), twice: sorted afresh, then reused
    keys = list(range(len(given_tables)))
    cache = SortedDurations()
    for _ in range(2):
        _same_times(packets_times(given_tables, verdicts, now, keys, cache), want)


@settings(max_examples=300, deadline=None)
@NODES
def test_packets_times_of_one_run_same_as_times_of_display_rows(given_tables, dead, now):
    """With every row of one run (``run_id``), no run is looked up: the same times."""
    verdicts = {r: VERDICTS[d] for r, d in zip(RUNS, dead, strict=True)}
    one_run = [
        t.filter(pc.fill_null(pc.equal(t.column("run_id"), "r1"), False)) for t in given_tables
    ]
    want = nodes_times([display_rows(t, verdicts, now) for t in one_run])
    _same_times(packets_times(one_run, verdicts, now, run_id="r1"), want)


def test_report_slow_packets_from_problem_rows(tmp_path):
    """The summary lists a live run's slow packets from the FAILED/LOST/RUNNING rows only:
    the same packets, in the same order, as from every row."""
    events = []
    for i in range(40):  # 30 done in ~1 s, then 10 RUNNING: 4 of them for an hour
        if i < 30:
            events += packet(
                "r1",
                T0 + i,
                T0 + i + 1.0,
                "FAILED" if i % 7 == 0 else "SUCCESS",
                "boom" if i % 7 == 0 else None,
                subject=i,
            )
        else:
            events += packet("r1", T0 + (0 if i < 34 else 3599.5), None, "SUCCESS", subject=i)
    write_status(tmp_path, "pipe", ("work", "v0"), events)
    now = T0 + 3600
    monitor = Monitor(tmp_path, clock=lambda: now, stale_after=10**9)  # live
    monitor.refresh()
    (pipeline,) = monitor.pipelines
    snap = monitor.snapshot(now=now)
    (node,) = snap.pipelines[0].nodes
    assert node.slow == 4 and node.slow_bound is not None
    times = monitor.triage(pipeline, "r1", snap.pipelines[0].verdicts, now)[node.key].times
    every = monitor.packet_rows(node.key, View(), now, ordered=False)
    problems = monitor.problem_rows(node.key, View(), now, snap.pipelines[0].verdicts)
    assert problems.num_rows < every.num_rows
    want = slow_packets(every, times, now, node.slow_bound)
    assert len(want) == 4
    assert slow_packets(problems, times, now, node.slow_bound) == want
    report = build_report(monitor, now=now)
    (listed,) = report["pipelines"][0]["nodes"]
    assert [p["tags"]["subject"] for p in listed["slow"]] == [str(p.tags["subject"]) for p in want]
    assert len(listed["failed"]) == 5
    with pytest.raises(ValueError):  # rows that are not the times' own: refused, not misread
        states = problems.column("state").to_pylist()
        first_running = states.index("RUNNING")
        fewer = [i for i in range(problems.num_rows) if i != first_running]
        slow_packets(problems.take(fewer), times, now, node.slow_bound)


def test_triage_rows_are_the_per_node_rows(tmp_path):
    """Monitor.triage makes its nodes' rows together; packet_rows (memo or not) agrees."""
    for node in ("load", "fit", "save"):
        events = []
        for i in range(6):
            end = None if i == 5 else T0 + i + 0.5  # one RUNNING packet per node
            state = "FAILED" if i == 2 else "SUCCESS"
            events += packet("r1", T0 + i, end, state, "boom" if i == 2 else None, subject=i)
        write_status(tmp_path, "pipe", (node, "v0"), events)
    now = T0 + 10_000  # long after: the run is over, its RUNNING packet LOST
    monitor = Monitor(tmp_path, clock=lambda: now, stale_after=60)
    monitor.refresh()
    (pipeline,) = monitor.pipelines
    verdicts = monitor.verdicts(pipeline, now)
    triage = monitor.triage(pipeline, "r1", verdicts, now)
    assert len(triage) == 3
    fresh = Monitor(tmp_path, clock=lambda: now, stale_after=60)
    fresh.refresh()
    for key in triage:
        got = monitor.packet_rows(key, View("r1"), now, verdicts, ordered=False)
        node = fresh.pipelines[pipeline].nodes[key[1]]
        want = display_rows(node.packets.table(), fresh.verdicts(pipeline, now), now)
        assert got.to_pylist() == want.to_pylist()
        assert "LOST" in got.column("state").to_pylist()
