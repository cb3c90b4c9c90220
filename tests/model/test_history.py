"""A packet across runs (states, durations, last success, sparkline) and flaky detection."""

from __future__ import annotations

import random

import pyarrow as pa
from support.events import T0, packet, write_status

from orcatui.model.grid import pipeline_inputs
from orcatui.model.history import (
    FLAKY_WINDOW,
    display_flaky_mask,
    flaky_keys,
    flaky_mask,
    flips,
    packet_history,
    run_free_key,
    sparkline,
)
from orcatui.model.monitor import Monitor
from orcatui.model.views import View

P = ("etl",)
CLEAN = ("clean", "v0")


def pk(run, start, dur, state, error=None, **tags):
    return packet(run, start, None if dur is None else start + dur, state, error, **tags)


def load(root, now):
    m = Monitor(root)
    m.refresh()
    return m, pipeline_inputs(m, P, now)


def test_history_newest_first_with_last_success_and_sparkline(tmp_path):
    rows = []
    plan = [  # oldest first: (run, state, duration)
        ("r1", "SUCCESS", 1.0),
        ("r2", "FAILED", 2.0),
        ("r3", "CACHED", 0.0),
        ("r4", None, None),  # r4 did not reach this packet
        ("r5", "FAILED", 4.0),
        ("r6", "", None),  # RUNNING in the newest run, which is over by `now`: LOST
    ]
    for i, (run, state, dur) in enumerate(plan):
        start = T0 + 100 * i
        if state is None:
            rows += pk(run, start, 1, "SUCCESS", subject="other")
        else:
            rows += pk(
                run, start, dur, state, "E: bad" if state == "FAILED" else None, subject="s1"
            )
    write_status(tmp_path, "etl", CLEAN, rows)
    _m, inputs = load(tmp_path, T0 + 5 * 3600)
    h = packet_history(inputs.nodes[0], {"subject": "s1"}, inputs.runs, inputs.lost)
    assert [e.run_id for e in h.entries] == ["r6", "r5", "r4", "r3", "r2", "r1"]
    assert [e.state for e in h.entries] == ["LOST", "FAILED", None, "CACHED", "FAILED", "SUCCESS"]
    assert h.entries[0].error.startswith("no event for")
    assert h.entries[1].error == "E: bad"
    durations = [e.duration_s for e in h.entries]
    assert durations[0] is None and durations[2] is None
    assert [round(d, 3) for d in durations if d is not None] == [4.0, 0.0, 2.0, 1.0]
    assert h.last_success == "r3"  # CACHED counts as success
    assert h.sparkline == " █ ▁▄▂"
    # S F (C) F (LOST): SUCCESS/FAILED changes only once: not flaky
    assert not h.flaky
    assert h.tags == {"subject": "s1"}


def test_flaky_alternating_and_not(tmp_path):
    seqs = {  # oldest first
        "flaky": ["SUCCESS", "FAILED", "SUCCESS", "FAILED"],
        "fixed": ["FAILED", "FAILED", "SUCCESS", "SUCCESS"],
        "broke": ["SUCCESS", "SUCCESS", "FAILED", "FAILED"],
        "cached": ["SUCCESS", "FAILED", "CACHED", "FAILED"],  # CACHED is skipped: one change
        "back": ["SUCCESS", "FAILED", "FAILED", "SUCCESS"],  # two changes: flaky
    }
    rows = []
    for i in range(4):
        for name, states in seqs.items():
            rows += pk(f"r{i}", T0 + 100 * i, 1, states[i], "e", subject=name)
    write_status(tmp_path, "etl", CLEAN, rows)
    m, inputs = load(tmp_path, T0 + 5 * 3600)
    node = inputs.nodes[0]
    got = {
        name: packet_history(node, {"subject": name}, inputs.runs, inputs.lost).flaky
        for name in seqs
    }
    assert got == {"flaky": True, "fixed": False, "broke": False, "cached": False, "back": True}
    keys = set(flaky_keys(node, inputs.runs).to_pylist())
    packets = node.packets
    assert keys == {run_free_key(packets, {"subject": n}) for n, f in got.items() if f}
    # marking rows of the packet table (display rows of the newest run)
    rows_shown = m.packet_rows((P, CLEAN), View(), T0 + 5 * 3600)
    mask = display_flaky_mask(
        rows_shown, m.pipelines[P].nodes[CLEAN].packets.tag_names, keys_arr(keys)
    )
    marked = {
        r["subject"] for r, f in zip(rows_shown.to_pylist(), mask.to_pylist(), strict=True) if f
    }
    assert marked == {"flaky", "back"}
    assert flaky_mask(packets, keys_arr(keys)).to_pylist().count(True) == 8  # 2 packets x 4 runs


def keys_arr(keys):
    return pa.array(sorted(keys), pa.string())


def test_flaky_keys_agree_with_the_per_packet_rule(tmp_path):
    """The vectorised rule equals the one-packet rule on random histories (window included)."""
    rnd = random.Random(11)
    runs = 14  # more than the window: older changes must not count
    choices = ["SUCCESS", "FAILED", "CACHED", "RUNNING", None]
    rows = []
    for p in range(60):
        for i in range(runs):
            state = rnd.choice(choices)
            if state is None:
                continue
            dur = None if state == "RUNNING" else 1
            rows += pk(
                f"run{i:02d}", T0 + 100 * i, dur, state if dur else "", "e", subject=f"p{p}", k="x"
            )
    write_status(tmp_path, "etl", CLEAN, rows)
    _m, inputs = load(tmp_path, T0 + 5 * 3600)
    node = inputs.nodes[0]
    assert len(inputs.runs) == runs > FLAKY_WINDOW
    expected = set()
    for p in range(60):
        tags = {"subject": f"p{p}", "k": "x"}
        h = packet_history(node, tags, inputs.runs, inputs.lost)
        states = [e.state for e in h.entries[:FLAKY_WINDOW]]
        assert h.flaky == (flips(states) >= 2)
        if h.flaky:
            expected.add(run_free_key(node.packets, tags))
    assert expected  # the random data has flaky packets …
    assert len(expected) < 60  # … and others
    assert set(flaky_keys(node, inputs.runs).to_pylist()) == expected


def test_flips_and_sparkline_rules():
    assert flips(["SUCCESS", "FAILED", "SUCCESS"]) == 2
    assert flips(["SUCCESS", None, "LOST", "SUCCESS", "FAILED"]) == 1
    assert sparkline([]) == ""
    assert sparkline([0.0, 0.0]) == "▁▁"
    assert sparkline([1.0, 8.0, None, 4.0, float("nan")]) == "▁█ ▄ "
