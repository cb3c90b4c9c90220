"""The app's time cursor: the whole view as the store said at a past moment (issue 13, item 1).

:class:`TimeTravelSource` is the refresher's model side with a moment: while :attr:`at` is set,
frames and details are made from :meth:`TimeCursor.monitor_at` (events after the moment ignored,
run records wound back, the clock standing at the moment) instead of the live monitor, which
goes on reading the disk underneath. The :class:`TimeCursor` is built on the model thread from
the live monitor's own events (it keeps them: ``Monitor.keep_history``), so entering history
reads nothing from disk; it is built again when the live monitor has folded new events since.

Keys (bound by the main screen): ``<`` / ``>`` one event back / forward, ``,`` / ``.`` one minute
back / forward, ``L`` back to live. From live, steps start at the newest event (a run that
ended days ago is not a minute before now).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from orcatui.app.refresher import Frame, ViewState, settle_heap
from orcatui.app.sanitize import cell
from orcatui.app.triage_source import TriageSource
from orcatui.model.asof import AsOfMonitor, TimeCursor
from orcatui.model.monitor import Monitor, NodeKey, PacketDetails
from orcatui.model.timeline import build_timeline
from orcatui.model.views import View

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orcatui.app.main import MonitorScreen

#: One "minute" step of the cursor, in seconds.
MINUTE_S = 60.0


class TimeTravelSource(TriageSource):
    """The app's frame source (issue 10's :class:`TriageSource`) that can also show the root as of
    a moment (:attr:`at`)."""

    def __init__(self, factory: Callable[[], Monitor], clock: Callable[[], float]) -> None:
        def keeping_history() -> Monitor:
            monitor = factory()
            monitor.keep_history = True  # the time cursor is built from the live fold
            return monitor

        super().__init__(keeping_history, clock)
        #: The moment shown (epoch seconds); None = live. Set on the model thread only.
        self.at: float | None = None
        self.cursor: TimeCursor | None = None
        self._as_of: tuple[float, AsOfMonitor] | None = None

    # -- moving (call on the model thread) ---------------------------------------------------
    def load_cursor(self) -> TimeCursor:
        """The live monitor's events as a :class:`TimeCursor` (no read of the store: the live
        fold keeps them); built again when the live monitor has read new data since."""
        live = self.monitor
        if self.cursor is None or self.cursor.version != live.version:
            self.cursor = TimeCursor(live, previous=self.cursor)
            self._as_of = None
            settle_heap()
        return self.cursor

    def _anchor(self, cursor: TimeCursor) -> float:
        if self.at is not None:
            return self.at
        span = cursor.span
        now = self.clock()
        return min(now, span[1]) if span is not None else now

    def move(self, kind: str, amount: float) -> float | None:
        """Move the moment: ``kind`` "event" (``amount`` ±1) or "seconds"; returns it.

        From live, an event step back lands on the newest event's predecessor and a time step
        counts from the newest event. Moving past the newest event returns to live (None).
        """
        cursor = self.load_cursor()
        start = self._anchor(cursor)
        if kind == "event":
            if self.at is None and amount > 0:
                return None
            at = float(cursor.step_event(start, 1 if amount > 0 else -1))
            if amount > 0 and at <= start:  # past the newest event: that is live
                return self.go_live()
        else:
            at = cursor.step(start, amount)
        span = cursor.span
        if span is not None and amount > 0 and at > span[1]:
            return self.go_live()
        if span is not None:
            at = max(at, span[0] - MINUTE_S)  # no point wandering far before the first event
        self.at = min(at, self.clock())
        return self.at

    def go_live(self) -> None:
        """Back to the live view."""
        self.at = None
        self._as_of = None  # (the cursor is kept: it is rebuilt when the live data moves on)

    def historical(self) -> AsOfMonitor | None:
        """The monitor as of :attr:`at` (cached per moment), or None when live."""
        at = self.at
        if at is None:
            return None
        cursor = self.load_cursor()  # (drops the cached moment when the live data moved on)
        if self._as_of is None or self._as_of[0] != at:
            self._as_of = (at, cursor.monitor_at(at))
        return self._as_of[1]

    # -- the refresher's side ----------------------------------------------------------------
    def frame(self, seq: int, view: ViewState) -> Frame:
        """A frame for ``view``, as of the moment when one is set."""
        past = self.historical()
        if past is None:
            return super().frame(seq, view)
        live, clock = self.monitor, self.clock
        at = past.at
        self.monitor, self.clock = past, lambda: at
        try:
            return super().frame(seq, view)
        finally:
            self.monitor, self.clock = live, clock

    def details(
        self, key: NodeKey, view: View, packet: str, row: Mapping[str, Any]
    ) -> PacketDetails:
        """A packet's details, as of the moment when one is set."""
        past = self.historical()
        if past is None:
            return super().details(key, view, packet, row)
        live, clock = self.monitor, self.clock
        at = past.at
        self.monitor, self.clock = past, lambda: at
        try:
            return super().details(key, view, packet, row)
        finally:
            self.monitor, self.clock = live, clock

    def shown_monitor(self) -> tuple[Monitor, float]:
        """The monitor the screen shows (historical or live) and its now (model thread)."""
        past = self.historical()
        if past is not None:
            return past, past.at
        return self.monitor, self.clock()


# -- the main screen's actions (main thread; model work is asked of the model thread) ----------
def move_time(screen: MonitorScreen, kind: str, amount: float) -> None:
    """Move the time cursor (``kind`` "event", "seconds" or "live"), then show that moment."""
    screen.run_worker(_move(screen, kind, amount), group="time-cursor", exit_on_error=False)


async def _move(screen: MonitorScreen, kind: str, amount: float) -> None:
    app = screen.orca
    source: TimeTravelSource = app.source  # type: ignore[assignment]

    def work() -> float | None:
        if kind == "live":
            return source.go_live()
        return source.move(kind, amount)

    try:
        at = await asyncio.wrap_future(app.refresher.ask(work))
    except Exception as exc:  # a root that cannot be read: say so, stay where we were
        app.notify(f"time cursor: {cell(exc, 200)}", severity="error", markup=False)
        return
    was = app.time_at
    app.time_at = at
    if at is None and was is not None:
        app.notify("back to live")
    app.refresher.submit(frame=True)
    screen._render_header()


def open_timeline(screen: MonitorScreen) -> None:
    """Build the shown run's timeline on the model thread, then open the timeline screen."""
    screen.run_worker(_open_timeline(screen), group="timeline", exit_on_error=False)


async def _open_timeline(screen: MonitorScreen) -> None:
    from orcatui.app.timeline import TimelineData, TimelineScreen

    app = screen.orca
    source: TimeTravelSource = app.source  # type: ignore[assignment]
    frame = screen.frame
    p = frame.pipeline(screen.state.pipeline) if frame is not None else None
    if p is None or p.run is None or p.view.all_runs:
        app.notify("no run to draw (pick one run with r)", severity="warning")
        return
    pipeline, run_id = p.name, p.run.run_id
    names = {n.key: n.name for n in p.nodes}

    def work() -> TimelineData | None:
        monitor, now = source.shown_monitor()
        if pipeline not in monitor.pipelines:
            return None
        tl = build_timeline(monitor, pipeline, run_id, now)
        return None if tl is None else TimelineData(tl, names, source.at)

    data = await asyncio.wrap_future(app.refresher.ask(work))
    if data is None or not data.timeline.lanes:
        app.notify("this run has no packets to draw", severity="warning")
        return
    app.push_screen(TimelineScreen(data, app.open_details))


def save_table(screen: MonitorScreen, directory: Path | None = None) -> None:
    """Save the packet table as shown (filter, search, sort) as CSV; notify where."""
    screen.run_worker(_save(screen, directory), group="save-table", exit_on_error=False)


def table_file_name(node_title: str, run: str, at: float) -> str:
    """``orcatui-<node>-<run>-<UTC time>.csv``, made safe as a file name."""
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")
    raw = f"orcatui-{node_title}-{run}-{stamp}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)[:160] + ".csv"


async def _save(screen: MonitorScreen, directory: Path | None) -> None:
    from orcatui.model.export import (
        FIXED_SCHEMA,
        ExportNode,
        ExportPlan,
        export_rows,
        export_tag_name,
        write_csv,
    )

    app = screen.orca
    frame = screen.frame
    if frame is None or frame.rows is None or frame.view.node is None:
        app.notify("no table to save: select a node", severity="warning")
        return
    rows, node = frame.rows, frame.view.node
    view = frame.view.view_of(node[0])
    p = frame.pipeline(node[0])
    info = next((n for n in p.nodes if n.key == node), None) if p is not None else None
    if info is None:
        return
    title = info.name.title
    run = "all-runs" if view.all_runs else (p.run.run_id if p and p.run else "run")
    when = frame.now
    name = table_file_name(title, run, when)
    source: TimeTravelSource = app.source  # type: ignore[assignment]

    def work() -> Path:
        monitor, _ = source.shown_monitor()
        tags = tuple((t, export_tag_name(t)) for t in monitor.pipelines[node[0]].nodes[node[1]]
                     .packets.tag_names)  # fmt: skip
        schema = pa.schema([*FIXED_SCHEMA, *[(c, pa.string()) for _, c in tags]])
        item = ExportNode(node, title, view, tags)
        plan = ExportPlan(schema, (item,), None, when)
        table = export_rows(item, rows, schema)
        for folder in (directory or Path.cwd(), Path(tempfile.gettempdir())):
            target = folder / name
            try:
                with open(target, "wb") as out:
                    write_csv(plan, table.to_batches(), out)
                return target.resolve()
            except OSError:
                continue
        raise OSError("no writable folder (tried the current folder and the temp folder)")

    try:
        target = await asyncio.wrap_future(app.refresher.ask(work))
    except Exception as exc:
        app.notify(f"could not save the table: {cell(exc, 200)}", severity="error", markup=False)
        return
    app.notify(f"saved {rows.num_rows:,} rows as shown to {target}", title="table saved",
               markup=False)  # fmt: skip
