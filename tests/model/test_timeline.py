"""A run's timeline: lanes, bars, density at 100,000 packets, concurrency, moment of death."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pyarrow as pa
import pytest
from support.events import T0, iso, packet, table_dir, write_parquet

from orcatui.model.monitor import Monitor
from orcatui.model.runs import Liveness
from orcatui.model.timeline import (
    DEATH_CHAR,
    Lane,
    RunTimeline,
    Window,
    build_timeline,
    full_window,
    layout,
    moment_of_death,
    packets_in_column,
    render_text,
)

ETL = ("etl",)
US = 1_000_000


def crashed(root, hostile_label: str = "Cleaning"):
    """r1: clean a 0–10 SUCCESS, b 5– (in flight at the crash), c 12–20 FAILED; fit d 20–25;
    heartbeat stops at T0+30, nothing after."""
    write_parquet(
        table_dir(root, "etl", ("clean",)),
        packet("r1", T0, T0 + 10, "SUCCESS", subject="a")
        + packet("r1", T0 + 5, None, "", subject="b")
        + packet("r1", T0 + 12, T0 + 20, "FAILED", "boom", subject="c"),
    )
    write_parquet(
        table_dir(root, "etl", ("fit",)), packet("r1", T0 + 20, T0 + 25, "SUCCESS", subject="d")
    )
    runs = root / "etl" / "_runs"
    runs.mkdir(parents=True)
    (runs / "r1.json").write_text(
        json.dumps(
            {
                "run_id": "r1",
                "host": "elsewhere",
                "pid": 1,
                "started_at": iso(T0),
                "heartbeat_at": iso(T0 + 30),
                "nodes": {"clean": {"label": hostile_label}},
            }
        )
    )
    m = Monitor(root, clock=lambda: T0 + 600)
    m.refresh()
    return m


def test_lanes_bars_and_moment_of_death(tmp_path):
    m = crashed(tmp_path)
    assert moment_of_death(m, ETL, "r1") == pytest.approx(T0 + 30)
    tl = build_timeline(m, ETL)
    assert tl.verdict.liveness is Liveness.DEAD
    assert [lane.title for lane in tl.lanes] == ["Cleaning", "fit"]
    assert (tl.start_us, tl.end_us, tl.death_us) == ((T0) * US, (T0 + 30) * US, (T0 + 30) * US)
    clean = tl.lanes[0]
    by_subject = dict(zip(clean.rows.column("subject").to_pylist(), range(3), strict=True))
    b = by_subject["b"]
    assert clean.start_us[b] == (T0 + 5) * US and clean.end_us[b] == (T0 + 30) * US  # → death
    lay = layout(tl, 30)  # one column per second
    lane = lay.lanes[0]
    assert lane.mode == "bars" and lane.tracks == 2
    segs = {clean.rows.column("subject")[s.index].as_py(): s for s in lane.segments}
    assert (segs["a"].col0, segs["a"].col1, segs["a"].state) == (0, 9, "SUCCESS")
    assert (segs["b"].col0, segs["b"].col1, segs["b"].state) == (5, 29, "LOST")
    assert (segs["c"].col0, segs["c"].col1, segs["c"].state) == (12, 19, "FAILED")
    assert segs["a"].track == segs["c"].track != segs["b"].track
    assert lay.death_col == 29
    text = render_text(lay)
    assert DEATH_CHAR in text and "moment of death" in text
    assert "✗" in text and "?" in text


def test_zero_packets_and_live_run_end_at_now(tmp_path):
    write_parquet(table_dir(tmp_path, "etl", ("clean",)), packet("r1", T0, None, "", subject="a"))
    m = Monitor(tmp_path, clock=lambda: T0 + 60)
    m.refresh()
    tl = build_timeline(m, ETL)
    assert tl.verdict.live and tl.death_us is None and tl.end_us == (T0 + 60) * US
    assert tl.lanes[0].end_us[0] == (T0 + 60) * US
    assert layout(tl, 10).lanes[0].segments[0].state == "RUNNING"


def test_hostile_lane_title_is_inert_in_text(tmp_path):
    m = crashed(tmp_path, hostile_label="\x1b[2J\u202eevil\nline")
    text = render_text(layout(build_timeline(m, ETL), 40))
    assert "\x1b" not in text and "\u202e" not in text and "evil line" in text


def _lane(starts, ends, states) -> RunTimeline:
    n = len(starts)
    lane = Lane(
        (ETL, ("n",)),
        "n",
        np.asarray(starts, np.int64),
        np.asarray(ends, np.int64),
        np.asarray(states, np.int8),
        pa.table({"i": np.arange(n)}),
    )
    return RunTimeline(ETL, "r", None, [lane], 0, int(max(ends)), None, None, int(max(ends)))


def test_concurrency_mean_and_peak_by_hand():
    tl = _lane([0, 5, 20], [10, 15, 30], [0, 0, 0])
    lay = layout(tl, 3, Window(0, 30))
    assert lay.concurrency == pytest.approx((1.5, 0.5, 1.0))
    assert lay.peak == (2, 1, 1)
    assert lay.lanes[0].touching == (2, 1, 1)


def test_100k_packets_aggregate_into_density_and_keep_failed_and_lost_visible():
    rng = np.random.default_rng(7)
    n = 100_000
    starts = np.sort(rng.integers(0, 3600 * US, n))
    ends = starts + rng.integers(1 * US, 60 * US, n)
    states = np.zeros(n, np.int8)  # SUCCESS
    failed, lost = n // 3, 2 * n // 3
    states[failed] = 3  # FAILED
    states[lost] = 4  # LOST
    tl = _lane(starts, ends, states)
    tl.end_us = int(ends.max())
    lay = layout(tl, 120)
    lane = lay.lanes[0]
    assert lane.mode == "density" and lane.segments == () and lane.visible == n
    col_f = int((starts[failed] - tl.start_us) * 120 // (tl.end_us - tl.start_us))
    col_l = int((starts[lost] - tl.start_us) * 120 // (tl.end_us - tl.start_us))
    assert lane.worst[col_f] == "FAILED" and lane.worst[col_l] == "LOST"
    assert sum(1 for w in lane.worst if w == "SUCCESS") > 100
    # The mean in flight integrates exactly: Σ durations / span.
    span = tl.end_us - tl.start_us
    assert sum(lay.concurrency) * span / 120 == pytest.approx((ends - starts).sum(), rel=1e-9)
    assert max(lay.peak) >= max(lay.concurrency)
    # Selecting a density cell finds its packets; they all touch the column.
    hit = packets_in_column(tl, 0, full_window(tl), 120, col_f)
    assert failed in hit and len(hit) == lane.touching[col_f]
    # Zoomed in far enough, the same lane becomes bars again.
    window = Window(int(starts[0]), int(starts[0]) + 10 * US)
    zoomed = layout(tl, 200, window, max_tracks=1000)
    assert zoomed.lanes[0].mode == "bars" and zoomed.lanes[0].visible < 1000
    text = render_text(lay)
    assert text.count("\n") >= 4


def test_window_zoom_pan_clamp():
    w = Window(0, 1000)
    z = w.zoom(4, center_us=500)
    assert (z.start_us, z.end_us) == (375, 625)
    assert w.zoom(2, center_us=0) == Window(0, 500)
    p = z.pan(1.0)
    assert (p.start_us, p.end_us) == (625, 875)
    assert Window(900, 1200).clamp(w) == Window(700, 1000)
    assert Window(-50, 2000).clamp(w) == w


def test_ticks_are_round_and_apart():
    lay = layout(_lane([0], [1], [0]), 100, Window(T0 * US, (T0 + 600) * US))
    cols = [c for c, _ in lay.ticks]
    assert all(b - a >= 12 for a, b in itertools.pairwise(cols))
    assert all(label.count(":") == 1 for _, label in lay.ticks)  # minutes steps: HH:MM
