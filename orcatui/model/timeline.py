"""A run's timeline: one lane per node, packets as bars over time, concurrency, moment of death.

Pure data (numpy arrays in, tuples of cells and segments out), rendered by the app's timeline
screen and, as plain text, by the post-mortem report (:func:`render_text`).

* :func:`build_timeline` gathers a run's packets from a :class:`Monitor` (the same rows as the
  table: LOST derived) into per-node arrays of start, end and state. A bar runs from the
  packet's RUNNING event to its terminal event; a packet still RUNNING ends at the view's
  ``now``; a LOST packet ends at the run's end (ENDED) or its **moment of death** (the last sign
  of life of a dead run: its newest event or record heartbeat, whichever is later).
* :func:`layout` maps a :class:`Window` (zoom and pan) onto ``width`` columns. A lane whose
  visible packets fit on at most ``max_tracks`` rows without sharing a column is drawn as bars
  (:class:`Segment`); otherwise it becomes per-column **density** (mean packets in flight per
  column, and the worst state touching each column, so FAILED and LOST stay visible at any zoom).
  The **concurrency** series is the run's packets in flight per column (mean and peak).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from orcatui.model.durations import format_duration
from orcatui.model.monitor import Monitor, NodeKey, Pipeline
from orcatui.model.naming import node_name
from orcatui.model.runs import Liveness, Verdict
from orcatui.model.severity import SEVERITY_ORDER
from orcatui.model.views import View
from orcatui.text import inert

#: Bar states, least severe first: a state's code is its index, so ``max`` is the worst.
BAR_STATES = tuple(s for s in reversed(SEVERITY_ORDER) if s != "slow")
_CODE = {s: i for i, s in enumerate(BAR_STATES)}
#: Characters of the plain-text rendering.
BAR_CHAR = {"SUCCESS": "█", "CACHED": "▒", "RUNNING": "▓", "FAILED": "✗", "LOST": "?"}
LEVELS = " ▁▂▃▄▅▆▇█"
DEATH_CHAR = "†"
_NICE_STEPS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 604800,
)  # fmt: skip


@dataclass
class Lane:
    """One node's packets in the run: arrays in the same order as ``rows`` (display rows)."""

    key: NodeKey
    title: str
    start_us: np.ndarray  # int64
    end_us: np.ndarray  # int64, >= start
    state: np.ndarray  # int8 index into BAR_STATES
    rows: pa.Table

    def __len__(self) -> int:
        return len(self.start_us)


@dataclass
class RunTimeline:
    """A run's lanes and its moments (µs since the epoch)."""

    pipeline: Pipeline
    run_id: str
    verdict: Verdict | None
    lanes: list[Lane]
    start_us: int
    end_us: int  # where the full view ends: ended, moment of death, or now
    death_us: int | None  # the moment of death of a dead run
    ended_us: int | None
    now_us: int

    @property
    def packets(self) -> int:
        """Packets over all lanes."""
        return sum(len(lane) for lane in self.lanes)


def moment_of_death(monitor: Monitor, pipeline: Pipeline, run_id: str) -> float | None:
    """The last sign of life of a run that is not live and did not end (epoch seconds): its
    verdict's ``stopped_at`` (:func:`runs.last_sign_of_life`); None for a live or ended run."""
    verdict = monitor.verdicts(pipeline).get(run_id)
    if verdict is None or verdict.liveness not in (Liveness.DEAD, Liveness.OVER):
        return None
    return verdict.stopped_at


def build_timeline(
    monitor: Monitor, pipeline: Pipeline, run_id: str | None = None, now: float | None = None
) -> RunTimeline | None:
    """The timeline of ``run_id`` (default: the pipeline's newest run); None if it has none."""
    now = monitor.clock() if now is None else now
    run_id = run_id or monitor.newest_run(pipeline)
    if run_id is None:
        return None
    verdicts = monitor.verdicts(pipeline, now)
    verdict = verdicts.get(run_id)
    info = next((r for r in monitor.run_infos(pipeline, now, verdicts) if r.run_id == run_id), None)
    now_us = round(now * 1e6)
    death = moment_of_death(monitor, pipeline, run_id)
    death_us = round(death * 1e6) if death is not None else None
    ended_us = round(info.ended * 1e6) if info is not None and info.ended is not None else None
    stop_us = ended_us if ended_us is not None else death_us
    labels = monitor.labels(pipeline)
    lanes = []
    model = monitor.pipelines[pipeline]
    order = sorted(
        model.nodes.values(),
        key=lambda n: (n.packets.first_us if n.packets.first_us is not None else 2**62, n.identity),
    )
    for node in order:
        rows = monitor.packet_rows(node.key, View(run_id=run_id), now, verdicts)
        if rows.num_rows == 0:
            continue
        ts = rows.column("ts_us").to_numpy(zero_copy_only=False).astype(np.int64)
        started = rows.column("started_us")
        start = np.where(
            started.is_null().to_numpy(zero_copy_only=False),
            ts,
            started.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64),
        )
        names = rows.column("state").to_pylist()
        state = np.array([_CODE.get(s, 0) for s in names], np.int8)
        open_ = (state == _CODE["RUNNING"]) | (state == _CODE["LOST"])
        lost_end = stop_us if stop_us is not None else now_us
        end = np.where(state == _CODE["LOST"], lost_end, ts)
        end = np.where(state == _CODE["RUNNING"], now_us, end)
        end = np.where(open_, np.maximum(end, ts), end)
        end = np.maximum(end, start)
        title = node_name(node.identity, labels).title
        lanes.append(Lane(node.key, title, start, end, state, rows))
    starts = [int(lane.start_us.min()) for lane in lanes]
    ends = [int(lane.end_us.max()) for lane in lanes]
    if info is not None and info.started is not None:
        starts.append(round(info.started * 1e6))
    t0 = min(starts) if starts else now_us
    candidates = [*ends, *(x for x in (ended_us, death_us) if x is not None)]
    t1 = max(candidates) if candidates else t0
    if verdict is not None and verdict.live:
        t1 = max(t1, now_us)
    return RunTimeline(pipeline, run_id, verdict, lanes, t0, max(t1, t0 + 1), death_us, ended_us,
                       now_us)  # fmt: skip


# -- windows ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """The span of time shown, [start, end) in µs."""

    start_us: int
    end_us: int

    @property
    def span_us(self) -> int:
        """Its length (at least 1 µs)."""
        return max(1, self.end_us - self.start_us)

    def zoom(self, factor: float, center_us: int | None = None) -> Window:
        """Narrower (``factor`` > 1) or wider around ``center_us`` (default: the middle)."""
        c = (self.start_us + self.end_us) // 2 if center_us is None else center_us
        span = max(1, round(self.span_us / factor))
        left = round((c - self.start_us) / self.span_us * span)
        return Window(c - left, c - left + span)

    def pan(self, fraction: float) -> Window:
        """Moved by ``fraction`` of its span (negative: back in time)."""
        d = round(self.span_us * fraction)
        return Window(self.start_us + d, self.end_us + d)

    def clamp(self, outer: Window) -> Window:
        """Kept within ``outer`` (as wide at most), for panning that stops at the ends."""
        span = min(self.span_us, outer.span_us)
        start = min(max(self.start_us, outer.start_us), outer.end_us - span)
        return Window(start, start + span)


def full_window(tl: RunTimeline) -> Window:
    """The whole run: first start to end, moment of death or now."""
    return Window(tl.start_us, tl.end_us)


def column_of(window: Window, width: int, t_us: int | np.ndarray) -> int | np.ndarray:
    """The column a moment falls in (clipped to 0 … width-1)."""
    col = np.floor((np.asarray(t_us, np.float64) - window.start_us) * width / window.span_us)
    out = np.clip(col, 0, width - 1).astype(np.int64)
    return int(out) if out.ndim == 0 else out


# -- layout --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """A packet's bar: on ``track`` from column ``col0`` to ``col1`` (inclusive)."""

    track: int
    col0: int
    col1: int
    state: str
    index: int  # row of the lane's ``rows``


@dataclass(frozen=True)
class LaneLayout:
    """One lane at one width: bars when they fit, per-column density otherwise."""

    key: NodeKey
    title: str
    mode: str  # "bars" | "density"
    tracks: int
    segments: tuple[Segment, ...]
    density: tuple[float, ...]  # mean packets in flight per column
    worst: tuple[str | None, ...]  # worst state touching each column
    touching: tuple[int, ...]  # packets touching each column
    visible: int  # packets in the window


@dataclass(frozen=True)
class TimelineLayout:
    """Everything to draw a timeline at one width and window."""

    pipeline: Pipeline
    run_id: str
    verdict: Verdict | None
    window: Window
    width: int
    lanes: tuple[LaneLayout, ...]
    concurrency: tuple[float, ...]  # mean packets in flight per column (all lanes)
    peak: tuple[int, ...]  # most packets in flight at once within each column
    ticks: tuple[tuple[int, str], ...]  # (column, label), UTC
    death_col: int | None
    death_us: int | None
    ended_col: int | None


def _edges(window: Window, width: int) -> np.ndarray:
    return window.start_us + np.arange(width + 1, dtype=np.float64) * (window.span_us / width)


def _integral(starts: np.ndarray, ends: np.ndarray, at: np.ndarray) -> np.ndarray:
    """∫ packets in flight dt from -∞ to each of ``at`` (starts, ends sorted; µs·packets)."""
    s_cum = np.concatenate(([0.0], np.cumsum(starts, dtype=np.float64)))
    e_cum = np.concatenate(([0.0], np.cumsum(ends, dtype=np.float64)))
    ns = np.searchsorted(starts, at, "right")
    ne = np.searchsorted(ends, at, "right")
    return (ns * at - s_cum[ns]) - (ne * at - e_cum[ne])


def _mean_in_flight(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    if len(start) == 0:
        return np.zeros(len(edges) - 1)
    f = _integral(np.sort(start).astype(np.float64), np.sort(end).astype(np.float64), edges)
    return np.diff(f) / np.diff(edges)


def _peak_in_flight(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Most packets in flight at once in each column ([start, end) intervals)."""
    width = len(edges) - 1
    if len(start) == 0:
        return np.zeros(width, np.int64)
    times = np.concatenate((start, end)).astype(np.float64)
    delta = np.concatenate((np.ones(len(start), np.int64), -np.ones(len(end), np.int64)))
    order = np.lexsort((delta, times))  # at equal times, ends before starts
    times, level = times[order], np.cumsum(delta[order])
    at_start = np.searchsorted(times, edges[:-1], "right")
    base = np.where(at_start > 0, level[np.maximum(at_start - 1, 0)], 0)
    hi = np.searchsorted(times, edges[1:], "left")
    peak = base.copy()
    inside = hi > at_start
    if inside.any():
        idx = np.flatnonzero(inside)
        maxima = np.array([level[a:b].max() for a, b in zip(at_start[idx], hi[idx], strict=True)])
        peak[idx] = np.maximum(peak[idx], maxima)
    return peak


def _open_end(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Bars are [start, end); a packet of no duration (CACHED) occupies [start, start + 1 µs)."""
    return np.maximum(end, start + 1)


def _touching(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Packets whose bar [start, end) meets each column [a, b)."""
    s, e = np.sort(start), np.sort(_open_end(start, end))
    a, b = edges[:-1], edges[1:]
    began = np.searchsorted(s, b, "left")  # start < b
    done = np.searchsorted(e, a, "right")  # end <= a
    return began - done


def _bars(
    lane: Lane, vis: np.ndarray, window: Window, width: int, max_tracks: int
) -> tuple[Segment, ...] | None:
    """Bars on at most ``max_tracks`` tracks, no two sharing a column on a track; else None."""
    if len(vis) > width * max_tracks:
        return None
    c0 = column_of(window, width, np.maximum(lane.start_us[vis], window.start_us))
    end = _open_end(lane.start_us[vis], lane.end_us[vis]) - 1
    c1 = column_of(window, width, np.minimum(end, window.end_us - 1))
    c1 = np.maximum(c0, c1)
    order = np.lexsort((c1, c0))
    last = [-1] * max_tracks
    segments = []
    for j in order:
        for track in range(max_tracks):
            if last[track] < c0[j]:
                last[track] = int(c1[j])
                name = BAR_STATES[int(lane.state[vis[j]])]
                segments.append(Segment(track, int(c0[j]), int(c1[j]), name, int(vis[j])))
                break
        else:
            return None
    return tuple(segments)


def layout(
    tl: RunTimeline, width: int, window: Window | None = None, *, max_tracks: int = 3
) -> TimelineLayout:
    """The timeline at ``width`` columns over ``window`` (default: the whole run)."""
    width = max(1, int(width))
    window = window or full_window(tl)
    edges = _edges(window, width)
    lanes = []
    all_start, all_end = [], []
    for lane in tl.lanes:
        end_open = _open_end(lane.start_us, lane.end_us)
        vis = np.flatnonzero((end_open > window.start_us) & (lane.start_us < window.end_us))
        start, end = lane.start_us[vis], lane.end_us[vis]
        all_start.append(start)
        all_end.append(end)
        worst: list[str | None] = [None] * width
        touching = np.zeros(width, np.int64)
        for code, name in enumerate(BAR_STATES):  # least severe first: worse ones overwrite
            sel = lane.state[vis] == code
            if not sel.any():
                continue
            t = _touching(start[sel], end[sel], edges)
            touching += t
            for col in np.flatnonzero(t > 0):
                worst[col] = name
        density = _mean_in_flight(start, end, edges)
        segments = _bars(lane, vis, window, width, max_tracks)
        mode = "bars" if segments is not None else "density"
        tracks = 1 + max((s.track for s in segments), default=0) if segments else 1
        lanes.append(
            LaneLayout(
                lane.key,
                lane.title,
                mode,
                tracks,
                segments or (),
                tuple(float(x) for x in density),
                tuple(worst),
                tuple(int(x) for x in touching),
                len(vis),
            )
        )
    s_all = np.concatenate(all_start) if all_start else np.empty(0, np.int64)
    e_all = np.concatenate(all_end) if all_end else np.empty(0, np.int64)
    conc = _mean_in_flight(s_all, e_all, edges)
    peak = _peak_in_flight(s_all, e_all, edges)

    def inside(t: int | None) -> int | None:
        if t is None or not window.start_us <= t <= window.end_us:
            return None
        return int(column_of(window, width, min(t, window.end_us - 1)))

    return TimelineLayout(
        tl.pipeline,
        tl.run_id,
        tl.verdict,
        window,
        width,
        tuple(lanes),
        tuple(float(x) for x in conc),
        tuple(int(x) for x in peak),
        ticks(window, width),
        inside(tl.death_us),
        tl.death_us,
        inside(tl.ended_us),
    )


def packets_in_column(
    tl: RunTimeline, lane: int, window: Window, width: int, col: int
) -> np.ndarray:
    """Rows (of ``tl.lanes[lane].rows``) of the packets touching column ``col``: what selecting
    a density cell opens."""
    edges = _edges(window, max(1, width))
    a, b = edges[col], edges[col + 1]
    ln = tl.lanes[lane]
    return np.flatnonzero((ln.start_us < b) & (_open_end(ln.start_us, ln.end_us) > a))


# -- axis ---------------------------------------------------------------------------------------
def ticks(window: Window, width: int, min_gap: int = 12) -> tuple[tuple[int, str], ...]:
    """Round moments on the axis, at least ``min_gap`` columns apart, labelled in UTC."""
    span_s = window.span_us / 1e6
    want = max(1, width // min_gap)
    step = next((s for s in _NICE_STEPS_S if span_s / s <= want), None)
    if step is None:
        step = math.ceil(span_s / want / 86400) * 86400
    first = math.ceil(window.start_us / 1e6 / step) * step
    fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    if step >= 86400 or span_s > 86400:
        fmt = "%m-%d %H:%M"
    out = []
    t = first
    while t * 1e6 < window.end_us:
        col = int(column_of(window, width, round(t * 1e6)))
        if not out or col - out[-1][0] >= min_gap:
            out.append((col, datetime.fromtimestamp(t, UTC).strftime(fmt)))
        t += step
    return tuple(out)


# -- plain text ---------------------------------------------------------------------------------
def _lane_rows(lane: LaneLayout, width: int) -> list[str]:
    if lane.mode == "bars":
        grid = [[" "] * width for _ in range(lane.tracks)]
        for seg in lane.segments:
            for c in range(seg.col0, seg.col1 + 1):
                grid[seg.track][c] = BAR_CHAR[seg.state]
        return ["".join(row) for row in grid]
    top = max(lane.density, default=0.0) or 1.0
    cells = []
    for d, w, n in zip(lane.density, lane.worst, lane.touching, strict=True):
        if w in ("FAILED", "LOST"):
            cells.append(BAR_CHAR[w])
        elif n == 0:
            cells.append(" ")
        else:
            cells.append(LEVELS[max(1, min(8, round(d / top * 8)))])
    return ["".join(cells)]


def render_text(lay: TimelineLayout, label_width: int = 14) -> str:
    """The timeline as plain text (for the report): lanes, concurrency, axis, legend.

    Lane titles are sanitised (:func:`orcatui.text.inert`); everything else is ours.
    """
    w = lay.width
    pad = " " * (label_width + 1)
    lines = []
    for lane in lay.lanes:
        title = inert(lane.title)
        title = title if len(title) <= label_width else title[: label_width - 1] + "…"
        for i, row in enumerate(_lane_rows(lane, w)):
            lines.append(f"{(title if i == 0 else ''):<{label_width}} │{row}│")
    top = max(lay.concurrency, default=0.0) or 1.0
    conc = "".join(
        LEVELS[max(1, min(8, round(c / top * 8)))] if c > 0 else " " for c in lay.concurrency
    )
    lines.append(f"{'in flight':<{label_width}} │{conc}│ peak {max(lay.peak, default=0)}")
    axis = ["─"] * w
    for col, _ in lay.ticks:
        axis[col] = "┬"
    if lay.death_col is not None:
        axis[lay.death_col] = DEATH_CHAR
    lines.append(f"{pad}└{''.join(axis)}┘")
    labels = [" "] * (w + 2)
    for col, text in lay.ticks:
        if col + 1 + len(text) <= len(labels):
            labels[col + 1 : col + 1 + len(text)] = list(text)
    lines.append(pad + "".join(labels).rstrip() + " UTC")
    span = format_duration(lay.window.span_us / 1e6)
    legend = "█ success  ▒ cached  ▓ running  ✗ failed  ? lost  ▁…█ packets in flight"
    lines.append(f"{pad}{legend}; {w} columns over {span}")
    if lay.death_us is not None:
        at = datetime.fromtimestamp(lay.death_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{pad}{DEATH_CHAR} moment of death: {at} UTC (last sign of life)")
    return "\n".join(lines)


def lane_titles(tl: RunTimeline) -> Sequence[str]:
    """The lanes' titles, sanitised for display."""
    return [inert(lane.title) for lane in tl.lanes]
