"""The monitor app (docs/design.md, "7 The app").

:class:`MonitorScreen` owns what it shows as an immutable :class:`ViewState` and renders the
frames the :class:`~orcatui.app.refresher.Refresher` computes for it on its model thread. Frames
arrive as :class:`FrameReady` messages, a newer one replacing one still queued, and a frame made
for a view state the screen has left is dropped. :class:`OrcaApp` owns the refresher, the change
feed and the timers; nothing on the event loop touches the filesystem.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static, Tree

from observers.objstore import is_url
from orcatui.app.commands import orca_commands
from orcatui.app.details import DetailsScreen
from orcatui.app.diff_view import DiffScreen
from orcatui.app.filters import BY_NAME, FILTERS
from orcatui.app.footer import KeyFooter
from orcatui.app.grid import GridScreen, GridView, compute_grid
from orcatui.app.header import StatusHeader
from orcatui.app.help import HelpScreen, Section
from orcatui.app.history import FlakyCache
from orcatui.app.node_tree import NodeTree, TreeRef
from orcatui.app.packet_table import EMPTY_ROWS, PacketTable
from orcatui.app.refresher import (
    Frame,
    FrameGate,
    ReadRequest,
    Refresher,
    ViewState,
)
from orcatui.app.render import THEME_DEFAULTS, Palette, palette_from, pipeline_label
from orcatui.app.run_picker import RunPicker
from orcatui.app.sanitize import cell
from orcatui.app.time_cursor import TimeTravelSource
from orcatui.app.triage_keys import RunEvents, next_sort, step_run, worst_node
from orcatui.app.triage_source import RUNNING_LONGEST
from orcatui.model.grid import GridBuilder
from orcatui.model.monitor import Monitor, NodeKey, PacketDetails
from orcatui.model.naming import NodeName
from orcatui.model.runs import DEFAULT_STALE_AFTER_S
from orcatui.model.views import View
from orcatui.watch import ChangeFeed
from orcatui.watching.remote_poller import (
    ObservedStore,
    PollCadence,
    RemoteFeed,
    backend_label,
    remote_feed,
)

MonitorFactory = Callable[[], Monitor]
#: Re-age the header and running packets this often (no model work).
TICK_S = 1.0
#: Judge the runs again this often (on the model thread; a frame only if a verdict changed).
REJUDGE_S = 5.0
#: With a change feed, read everything this often anyway (a full pass over a 1,000-table root
#: costs ~0.4 s of CPU: every 30 s that alone was over 1 % of a core at idle).
SAFETY_REFRESH_S = 120.0
#: Without a change feed, poll this often.
FALLBACK_POLL_S = 2.0
#: While the root cannot be read, try again this often; a stopped feed restarts after this.
RETRY_S = 2.0
#: New problems notified one by one per frame; more are summed up in one notification (500
#: toasts at once kept the UI loop busy for a minute; the header counts unreadable tables).
MAX_PROBLEM_NOTICES = 3


class FrameReady(Message):
    """A frame from the refresher; replaces a frame still waiting in the queue."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        super().__init__()

    def can_replace(self, message: Message) -> bool:
        """Only the newest frame is worth rendering."""
        return isinstance(message, FrameReady)


class RefreshFailed(Message):
    """A read or a frame failed on the model thread (the last frame stays shown)."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__()


class MonitorScreen(Screen[None]):
    """Header, node tree, packet table, footer; owns the view state."""

    BINDINGS = [  # noqa: RUF012
        Binding("r", "pick_run", "Runs"),
        *(
            Binding(f.key, f"state('{f.name}')", f"{f.name.capitalize()}", show=f.key in "afl")
            for f in FILTERS
        ),
        Binding("slash", "search", "Search"),
        Binding("c", "copy", "Copy traceback or error", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
        Binding("t", "toggle_tree", "Toggle tree", show=False),
        Binding("H", "grid", "Runs grid", show=False),
        # issue 13: the timeline, the time cursor, saving the table as shown
        Binding("T", "timeline", "Timeline"),
        Binding("less_than_sign", "time_move('event',-1)", "Back one event", show=False),
        Binding("greater_than_sign", "time_move('event',1)", "Forward one event", show=False),
        Binding("comma", "time_move('seconds',-60)", "Back one minute", show=False),
        Binding("full_stop", "time_move('seconds',60)", "Forward one minute", show=False),
        Binding("L", "time_live", "Back to live", show=False),
        Binding("E", "save_table", "Save table as shown", show=False),
        Binding("p", "problems", "Problems"),
        Binding("o", "sort_next", "Sort by next column", show=False),
        Binding("O", "sort_reverse", "Reverse the sort", show=False),
        Binding("U", "running_longest", "Running longest first", show=False),
        Binding("h", "toggle_tags", "Hide/show tag columns", show=False),
        Binding("left_square_bracket", "step_run(1)", "Older run", show=False),
        Binding("right_square_bracket", "step_run(-1)", "Newer run", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = ViewState()
        self.frame: Frame | None = None
        self._gate = FrameGate()
        self._notified: set[str] = set()
        self._grid_builder = GridBuilder()  # per-node counts kept between grid screens
        self._flaky = FlakyCache()  # used on the model thread only
        self._events = RunEvents()
        self._opened = False  # the first frame with nodes chose where to start

    def compose(self) -> ComposeResult:
        """The main layout."""
        yield StatusHeader(id="header")
        yield Static(id="banner")
        with Horizontal(id="body"):
            yield NodeTree(id="tree")
            with Vertical(id="packets"):
                yield Static(id="filter-bar")
                yield PacketTable(id="table")
                yield Input(placeholder="search tag values…", id="search")
        yield KeyFooter()

    @property
    def orca(self) -> OrcaApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    # -- state -------------------------------------------------------------------------------
    def set_state(self, state: ViewState) -> None:
        """Show another view state: ask the refresher for its frame, re-render what is known."""
        if state == self.state:
            return
        self.state = state
        self.orca.want_frame(state)
        self._render_header()

    def on_frame_ready(self, message: FrameReady) -> None:
        """Apply a frame if it is for the view shown now and newer than the last applied."""
        frame = message.frame
        if not self._gate.accepts(frame.seq, frame.view, self.state):
            return
        self.frame = frame
        self._show_frame(frame)
        from orcatui.app.problems import prepare_problems

        prepare_problems(self.app, frame.snapshot, dict(self.state.views))  # so `p` only paints
        for screen in self.app.screen_stack:
            if isinstance(screen, DetailsScreen):
                self.orca.follow(screen)
            if isinstance(screen, GridScreen):
                screen.reload()  # live: the newest column is recounted
            follow = getattr(screen, "follow_problems", None)
            if follow is not None:
                follow(frame.snapshot)  # the problems view follows live data

    def repaint(self) -> None:
        """Render the last frame again (the theme changed)."""
        if self.frame is not None:
            self.query_one(PacketTable).forget_rendered()
            self._show_frame(self.frame)

    def on_refresh_failed(self, message: RefreshFailed) -> None:
        """A refresh failed: say so once per distinct error."""
        self.app.notify(f"refresh failed: {message.error}", severity="error", markup=False)

    def tick(self, now: float) -> None:
        """Re-age what shows an age (header, running packets); no model work."""
        if self.frame is None or not self.is_mounted or self.orca.time_at is not None:
            return  # a historical view does not age
        try:
            self._render_header(now)
            self.query_one(PacketTable).set_clock(now)
        except NoMatches:  # the app is closing and the screen's widgets are gone
            return

    # -- rendering ---------------------------------------------------------------------------
    def _show_frame(self, frame: Frame) -> None:
        new = [p for p in dict.fromkeys(frame.problems) if p not in self._notified]
        self._notified.update(new)
        for problem in new[:MAX_PROBLEM_NOTICES]:
            self.app.notify(problem, title="unreadable data", severity="warning", markup=False)
        if len(new) > MAX_PROBLEM_NOTICES:
            more = len(new) - MAX_PROBLEM_NOTICES
            self.app.notify(
                f"… and {more} more problem{'s' if more > 1 else ''} in this read",
                title="unreadable data",
                severity="warning",
                markup=False,
            )
        tree = self.query_one(NodeTree)
        tree.update_from(frame.snapshot)
        for message, severity in self._events.update(frame.snapshot):
            self.app.notify(message, title="run", severity=severity, markup=False)
            if self.orca.ring_bell:
                self.app.bell()
        if self.state.node is None:
            worst = worst_node(frame.snapshot)
            line = tree.line_of(worst) if worst is not None else None
            first = line or tree.first_node()
            if first is not None and first.data is not None:
                self._select(first.data)
                self.call_after_refresh(self._put_tree_cursor_on_node)
                if not self._opened and self.orca.problems_first and worst is not None:
                    self.call_after_refresh(self._open_problems_if_any, frame)
            self._opened = self._opened or first is not None
        self._render_header()
        self._render_banner(frame)
        self._render_table(frame)
        self._mark_flaky(frame)

    @work(group="flaky", exclusive=True, exit_on_error=False)
    async def _mark_flaky(self, frame: Frame) -> None:
        """Mark flaky packets in the table (computed on the model thread)."""
        node, p = frame.view.node, frame.pipeline(frame.view.pipeline)
        if node is None or p is None or frame.rows is None:
            return
        orca, rows, runs = self.orca, frame.rows, [r.run_id for r in p.runs]
        future = orca.refresher.ask(
            lambda: self._flaky.row_keys(orca.source.monitor, node, rows, runs)
        )
        keys = await asyncio.wrap_future(future)
        if self.frame is frame:
            self.query_one(PacketTable).set_flaky(keys)

    def _put_tree_cursor_on_node(self) -> None:
        if self.state.node is not None:
            self.query_one(NodeTree).put_cursor_on(self.state.node)

    def _render_header(self, now: float | None = None) -> None:
        self.query_one(StatusHeader).show(
            self.frame,
            str(self.orca.root),
            self.state.pipeline,
            self.orca.feed_backend,
            now,
            as_of=self.orca.time_at,
        )

    def _render_banner(self, frame: Frame) -> None:
        banner = self.query_one("#banner", Static)
        if frame.root_error:
            banner.update(
                Text(
                    f"⚠ cannot read the root: {cell(frame.root_error, 300)} — "
                    f"showing the last data read; retrying every {RETRY_S:g}s",
                    style="bold",
                )
            )
            banner.set_classes("error")
        elif not frame.snapshot.pipelines:
            root = cell(str(self.orca.root), 300)
            banner.update(Text(f"waiting for status tables under {root} …"))
            banner.set_classes("waiting")
        else:
            banner.set_classes("")

    def _render_table(self, frame: Frame) -> None:
        table = self.query_one(PacketTable)
        bar = self.query_one("#filter-bar", Static)
        state = frame.view
        if state.node is None or frame.rows is None:
            if not frame.snapshot.pipelines:
                placeholder = f"waiting for status tables under {self.orca.root} …"
            elif state.node is None:
                placeholder = "select a node in the tree"
            else:
                placeholder = "…"
            table.set_rows(EMPTY_ROWS, now=frame.now, node=None, placeholder=cell(placeholder, 300))
            bar.update(Text(""))
            return
        view = state.view_of(state.node[0])
        filt = BY_NAME[state.filter]
        if frame.total == 0:
            placeholder = "no packets in this run"
        else:
            placeholder = f"no {filt.name} packets" if filt.states else "no packets"
            if state.search:
                placeholder += f" matching {state.search!r}"
        table.set_rows(
            frame.rows,
            now=frame.now,
            node=(state.node, view),
            show_run=view.all_runs,
            placeholder=cell(placeholder, 300),
            slow=getattr(frame, "slow", None),
            regressed=getattr(frame, "regressed", None),
            sort=state.sort if state.sort is None or state.sort[0] != RUNNING_LONGEST else None,
        )
        bar.update(self._filter_text(frame, frame.rows.num_rows))

    def _filter_text(self, frame: Frame, shown: int) -> Text:
        state = frame.view
        out = Text()
        out.append(f"{shown:,}", style="bold")
        out.append(f" of {frame.total:,} packets")
        if state.filter != "all":
            out.append("  filter ", style="dim")
            out.append(f" {state.filter} ", style="bold reverse")
        if state.search:
            out.append("  search ", style="dim")
            out.append(f" {cell(state.search, 60)} ", style="bold reverse")
        if state.sort is not None:
            column, descending = state.sort
            headers = {c.field: c.header for c in self.query_one(PacketTable).columns}
            label = "running longest" if column == RUNNING_LONGEST else headers.get(column, column)
            out.append("  sort ", style="dim")
            out.append(f" {cell(label, 40)} {'▼' if descending else '▲'} ", style="bold reverse")
        p = frame.pipeline(state.pipeline)
        for n in p.nodes if p is not None else ():
            if n.key == state.node:
                out.append("  │  ", style="dim")
                out.append(cell(n.name.title, 60), style="bold")
                out.append(f" {cell(n.name.function, 60)} {cell(n.name.detail, 60)}", style="dim")
        return out

    # -- selection and actions ---------------------------------------------------------------
    def _select(self, ref: TreeRef) -> None:
        if ref.kind == "group":
            return
        state = replace(self.state, pipeline=ref.pipeline)
        if ref.kind == "node":
            state = replace(state, node=ref.node)
        self.set_state(state)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[TreeRef]) -> None:
        """Moving in the tree selects what the table shows."""
        if event.node.data is not None:
            self._select(event.node.data)

    def action_state(self, name: str) -> None:
        """Show only packets in some states."""
        self.set_state(replace(self.state, filter=name))

    def action_search(self) -> None:
        """Show the search field."""
        search = self.query_one("#search", Input)
        search.add_class("shown")
        search.focus()

    def action_clear_search(self) -> None:
        """Clear and hide the search field."""
        search = self.query_one("#search", Input)
        if search.value or search.has_class("shown"):
            search.value = ""
            search.remove_class("shown")
            self.set_state(replace(self.state, search=""))
            self.query_one(PacketTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Search as you type."""
        self.set_state(replace(self.state, search=event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search field: back to the table."""
        if not event.value:
            event.input.remove_class("shown")
        self.query_one(PacketTable).focus()

    def action_toggle_tree(self) -> None:
        """Hide or show the node tree (more room on small terminals)."""
        self.query_one(NodeTree).toggle_class("hidden")

    def action_pick_run(self) -> None:
        """Open the run picker for the selected pipeline."""
        p = self.frame.pipeline(self.state.pipeline) if self.frame else None
        if p is None or self.frame is None:
            self.app.notify("no pipeline yet", severity="warning")
            return

        def picked(view: View | None) -> None:
            if view is not None:
                self.set_state(self.state.with_view(p.name, view))

        self.app.push_screen(RunPicker(p, self.frame.now, self.orca.root), picked)

    def action_grid(self) -> None:
        """Open the runs × nodes grid of the selected pipeline (Enter there opens a run)."""
        p = self.frame.pipeline(self.state.pipeline) if self.frame else None
        if p is None:
            self.app.notify("no pipeline yet", severity="warning")
            return
        name, newest = p.name, (p.runs[0].run_id if p.runs else None)
        orca = self.orca

        def compute(previous: object) -> object:
            builder = self._grid_builder
            now = orca.clock()
            return orca.refresher.ask(
                lambda: compute_grid(orca.source.monitor, name, now, builder, previous)
            )

        def picked(choice: tuple[str, tuple[str, ...]] | None) -> None:
            if choice is None:
                return
            run_id, identity = choice
            view = View() if run_id == newest else View(run_id=run_id)
            self.set_state(replace(self.state.with_view(name, view), node=(name, identity)))
            self.call_after_refresh(self._put_tree_cursor_on_node)

        label = pipeline_label(p.title or p.name, orca.root)
        self.app.push_screen(GridScreen(name, label, compute), picked)

    def _cursor_packet(self) -> tuple[NodeKey, View, dict] | None:
        row = self.query_one(PacketTable).cursor_row()
        node = self.state.node
        if row is None or node is None:
            return None
        return node, self.state.view_of(node[0]), row

    def action_details(self) -> None:
        """Open the selected packet."""
        found = self._cursor_packet()
        if found is not None:
            self._open(*found)

    def on_packet_table_opened(self, event: PacketTable.Opened) -> None:
        """Enter on a packet."""
        found = self._cursor_packet()
        if found is not None:
            self._open(found[0], found[1], event.row)

    def _open(self, node: NodeKey, view: View, row: dict) -> None:
        name = self._node_name(node)
        if name is not None and self.frame is not None:
            self.orca.open_details(node, view, row, name)

    def _node_name(self, node: NodeKey) -> NodeName | None:
        p = self.frame.pipeline(node[0]) if self.frame else None
        for n in p.nodes if p is not None else ():
            if n.key == node:
                return n.name
        return None

    def action_timeline(self) -> None:
        """Open the timeline of the selected pipeline's shown run."""
        from orcatui.app.time_cursor import open_timeline

        open_timeline(self)

    def action_time_move(self, kind: str, amount: float) -> None:
        """Move the time cursor (by event or by seconds; see orcatui.app.time_cursor)."""
        from orcatui.app.time_cursor import move_time

        move_time(self, kind, amount)

    def action_time_live(self) -> None:
        """Back from a historical view to live."""
        from orcatui.app.time_cursor import move_time

        move_time(self, "live", 0)

    def action_save_table(self) -> None:
        """Save the table as shown (filtered, sorted) to a file and say where."""
        from orcatui.app.time_cursor import save_table

        save_table(self)

    # -- issue 10: problems, sorting, runs ---------------------------------------------------
    def _open_problems_if_any(self, frame: Frame) -> None:
        if any(
            n.counts.get("FAILED") or n.counts.get("LOST") or n.slow
            for p in frame.snapshot.pipelines
            for n in p.nodes
        ):
            self.action_problems()

    def action_problems(self) -> None:
        """Open the problems view: every FAILED, LOST and slow packet, grouped."""
        from orcatui.app.problems import ProblemsScreen

        if not any(isinstance(s, ProblemsScreen) for s in self.app.screen_stack):
            self.app.push_screen(ProblemsScreen(dict(self.state.views)))

    def _sort(self, sort: tuple[str, bool] | None) -> None:
        self.set_state(replace(self.state, sort=sort))

    def action_sort_next(self) -> None:
        """Sort by the next column (model order after the last)."""
        table = self.query_one(PacketTable)
        self._sort(next_sort(self.state.sort, [c.field for c in table.columns]))

    def action_sort_reverse(self) -> None:
        """Flip the sort between ascending and descending."""
        if self.state.sort is not None and self.state.sort[0] != RUNNING_LONGEST:
            self._sort((self.state.sort[0], not self.state.sort[1]))

    def action_running_longest(self) -> None:
        """RUNNING packets first, the longest running on top (again: back to model order)."""
        on = self.state.sort is not None and self.state.sort[0] == RUNNING_LONGEST
        self._sort(None if on else (RUNNING_LONGEST, False))

    def on_packet_table_sort_clicked(self, event: PacketTable.SortClicked) -> None:
        """A header click: sort by that column; again: descending; a third time: unsorted."""
        sort = self.state.sort
        if sort is None or sort[0] != event.field:
            self._sort((event.field, False))
        elif not sort[1]:
            self._sort((event.field, True))
        else:
            self._sort(None)

    def action_toggle_tags(self) -> None:
        """Hide or show the packet table's tag columns."""
        self.query_one(PacketTable).action_toggle_tags()

    def action_step_run(self, delta: int) -> None:
        """Show the next older (``[``) or newer (``]``) run of the pipeline."""
        p = self.frame.pipeline(self.state.pipeline) if self.frame else None
        if p is None:
            return
        view = step_run(p, delta)
        if view is None:
            self.app.notify("no older run" if delta > 0 else "no newer run", severity="warning")
            return
        self.set_state(self.state.with_view(p.name, view))

    def step_packet(self, delta: int) -> tuple[NodeKey, View, dict] | None:
        """Move the table cursor to the next/previous packet (details ``n`` / ``N``)."""
        table = self.query_one(PacketTable)
        before = table.cursor
        table.action_cursor(delta)
        if table.cursor == before:
            return None
        return self._cursor_packet()

    def focus_table(self) -> None:
        """Move the focus into the packet table (enter or → on a tree node)."""
        self.query_one(PacketTable).focus()

    def action_copy(self) -> None:
        """Copy the selected packet's traceback (or error) to the clipboard."""
        found = self._cursor_packet()
        if found is None:
            self.app.notify("no packet selected", severity="warning")
            return
        self.orca.copy_packet(*found)


class OrcaApp(App[int]):
    """Watch a root: node tree, packet table, details; live while runs write events."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "orcatui"
    BINDINGS = [  # noqa: RUF012
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+r,f5", "refresh", "Refresh now", show=False),
    ]

    def __init__(
        self,
        source: Path | str | MonitorFactory,
        *,
        clock: Callable[[], float] = time.time,
        poll: float | None = None,
        static: bool = False,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Sequence[Path] = (),
        tick: float | None = TICK_S,
        safety_refresh: float = SAFETY_REFRESH_S,
        use_feed: bool = True,
        theme: str | None = None,
        bell: bool = False,
        problems_first: bool = False,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        #: The poll cadence of a root on object storage (None for a local root): it outlives
        #: the feed (restarted after a failure) and every model the refresher makes.
        self.cadence: PollCadence | None = None
        self.storage_options = dict(storage_options or {})
        if isinstance(source, str) and not is_url(source):
            source = Path(source)
        if isinstance(source, str):
            monitor_factory = self._remote_factory(
                source, stale_after=stale_after, job_files=job_files, clock=clock, poll=poll
            )
        elif isinstance(source, Path):
            root = source

            def factory() -> Monitor:
                return Monitor(root, stale_after=stale_after, job_files=job_files, clock=clock)

            monitor_factory: MonitorFactory = factory
        else:
            monitor_factory = source
        self.clock = clock
        self.source: TimeTravelSource = TimeTravelSource(monitor_factory, clock)
        #: The moment of a historical view (the time cursor), None when live (main thread).
        self.time_at: float | None = None
        self.ring_bell = bell
        self.problems_first = problems_first
        self.root = self.source.root
        self.poll = poll
        self.static = static
        self.tick = tick
        self.safety_refresh = safety_refresh
        self.use_feed = use_feed and not static
        self.backend = (
            "static" if static else "starting…" if self.use_feed else self._polling_label()
        )
        if self.cadence is not None and self.use_feed:
            self.backend = backend_label(str(self.root), self.cadence.interval)
        self.refresher: Refresher[Frame] = Refresher(
            self.source, self._deliver, self._failed, name="orcatui-model"
        )
        self._palette: tuple[str, Palette] | None = None
        self.notices: deque[str] = deque(maxlen=50)  # the latest notifications' texts
        self._loop: asyncio.AbstractEventLoop | None = None
        self._feed: ChangeFeed | RemoteFeed | None = None
        self._feed_task: asyncio.Task[None] | None = None
        if theme is not None:
            self.theme = theme

    def _remote_factory(
        self,
        url: str,
        *,
        stale_after: float,
        job_files: Sequence[Path],
        clock: Callable[[], float],
        poll: float | None,
    ) -> MonitorFactory:
        """Models of a root on object storage whose store reports each poll to the cadence."""
        cadence = self.cadence = PollCadence(interval=poll or FALLBACK_POLL_S)
        options = self.storage_options

        def factory() -> Monitor:
            monitor = Monitor(
                url,
                stale_after=stale_after,
                job_files=job_files,
                clock=clock,
                storage_options=options,
            )
            monitor.store = ObservedStore(monitor.store, cadence)  # type: ignore[assignment]
            return monitor

        return factory

    def notify(self, message: str, **kwargs: object) -> None:  # type: ignore[override]
        """Show a notification and remember its text (the last ones, in :attr:`notices`)."""
        self.notices.append(str(message))
        super().notify(message, **kwargs)  # type: ignore[arg-type]

    @property
    def palette(self) -> Palette:
        """State and liveness colours of the current theme."""
        if self._palette is None or self._palette[0] != self.theme:
            variables = self.get_css_variables()
            self._palette = (self.theme, palette_from(variables, dark=self.current_theme.dark))
        return self._palette[1]

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The app's own theme variables (``$state-lost``), for dark or light themes."""
        dark = True
        with contextlib.suppress(Exception):  # no theme chosen yet while starting
            dark = self.current_theme.dark
        return dict(THEME_DEFAULTS[dark])

    def _theme_changed(self, _theme: object) -> None:
        screen = self.main
        if screen is not None:
            screen.repaint()

    def _polling_label(self) -> str:
        return f"polling every {self.poll or FALLBACK_POLL_S:g}s"

    @property
    def feed_backend(self) -> str:
        """The change feed's own label, once it runs."""
        return self._feed.backend if self._feed is not None else self.backend

    @property
    def main(self) -> MonitorScreen | None:
        """The main screen (it may be under a details or picker screen)."""
        for screen in self.screen_stack:
            if isinstance(screen, MonitorScreen):
                return screen
        return None

    @property
    def idle(self) -> bool:
        """True when the refresher has nothing queued or running and the main screen shows a
        frame for its current view state (for tests and benchmarks: the screen has caught up)."""
        screen = self.main
        return (
            self.refresher.idle
            and screen is not None
            and screen.frame is not None
            and screen.frame.view == screen.state
        )

    # -- the refresher (its callbacks run on the model thread) -------------------------------
    def _post(self, message: Message) -> None:
        """Hand a message from the model thread to the main screen's queue."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._to_main, message)

    def _to_main(self, message: Message) -> None:
        screen = self.main
        if screen is not None:
            screen.post_message(message)

    def _deliver(self, frame: Frame) -> None:
        self._post(FrameReady(frame))

    def _failed(self, exc: BaseException) -> None:
        self._post(RefreshFailed(cell(exc, 200)))

    def want_frame(self, state: ViewState) -> None:
        """A frame for a new view state (no disk read)."""
        self.refresher.submit(view=state)

    def read(self, *, rediscover: bool = True, only: Iterable[Path] | None = None) -> None:
        """Read the disk (every table unless ``only``), then a frame."""
        tables = frozenset(only) if only else None
        self.refresher.submit(read=ReadRequest(rediscover, tables))

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        """Show the main screen, read the root, start the feed and timers."""
        self._loop = asyncio.get_running_loop()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.push_screen(MonitorScreen())
        self.refresher.start()
        self.read()
        if self.tick:
            self.set_interval(self.tick, self._on_tick)
            self.set_interval(max(REJUDGE_S, self.tick), self._rejudge)
        if self.use_feed:
            self._feed_task = asyncio.create_task(self._consume_feed())
            if self.cadence is None:  # on object storage the cadence's sweep is the safety net
                self.set_interval(self.safety_refresh, self.read)
        elif not self.static:
            self.set_interval(self.poll or FALLBACK_POLL_S, self.read)
        self.set_interval(RETRY_S, self._retry_root)

    def on_unmount(self) -> None:
        """Stop the feed and the model thread."""
        if self._feed is not None:
            self._feed.stop()
        if self._feed_task is not None:
            self._feed_task.cancel()
        self.refresher.stop(timeout=5)
        self.source.close()

    def _on_tick(self) -> None:
        screen = self.main
        if screen is not None:
            screen.tick(self.clock())

    def _rejudge(self) -> None:
        """Judge the runs again (a heartbeat going stale, a writer's process gone): the refresher
        makes a frame only when a verdict changed, so at idle this costs the judgement alone."""
        screen = self.main
        if screen is not None and screen.frame is not None and self.refresher.idle:
            self.refresher.submit(rejudge=True)

    def _retry_root(self) -> None:
        screen = self.main
        if screen is not None and screen.frame is not None and screen.frame.root_error:
            self.read()

    async def _consume_feed(self) -> None:
        """Turn change-feed batches into targeted reads; restart the feed if it fails."""
        while True:
            feed: ChangeFeed | RemoteFeed
            if self.cadence is not None:  # object storage: polled at the cadence's pace
                url = str(self.root)
                feed = await asyncio.to_thread(
                    remote_feed, url, self.storage_options, cadence=self.cadence
                )
            else:
                feed = ChangeFeed(self.root, poll=self.poll, static=self.static)
            self._feed = feed
            try:
                async for changes in feed.changes():
                    self.read(rediscover=changes.rescan, only=changes.tables)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._feed = None
                self.backend = f"feed stopped ({cell(exc, 60)}); retrying"
            await asyncio.sleep(RETRY_S)

    # -- packets -----------------------------------------------------------------------------
    def follow(self, screen: DetailsScreen) -> None:
        """Bring a details screen up to date with its packet (it follows the packet live)."""
        self._fetch_details(screen)

    @work(group="details", exit_on_error=False)
    async def _fetch_details(self, screen: DetailsScreen) -> None:
        details = await self._details(screen.details.node, screen.view, screen.details.row)
        if screen.is_attached:
            screen.show(details, self.clock())

    async def _details(self, node: NodeKey, view: View, row: dict) -> PacketDetails:
        """A packet's current details, read on the model thread."""
        packet = str(row.get("key"))
        future = self.refresher.ask(lambda: self.source.details(node, view, packet, row))
        return await asyncio.wrap_future(future)

    @work(group="details", exit_on_error=False)
    async def open_details(self, node: NodeKey, view: View, row: dict, name: NodeName) -> None:
        """Read a packet's log row, then show its details (they follow the packet from then)."""
        details = await self._details(node, view, row)
        self.push_screen(DetailsScreen(details, name, self.clock(), view))

    def open_packet(self, node: NodeKey, view: View, row: dict) -> None:
        """Open a packet's details from anywhere (the problems view): named by the main frame."""
        screen = self.main
        name = screen._node_name(node) if screen is not None else None
        if name is not None:
            self.open_details(node, view, row, name)

    @work(group="details", exit_on_error=False)
    async def step_details(self, screen: DetailsScreen, delta: int) -> None:
        """``n`` / ``N`` on a details screen: the next/previous packet of the list beneath."""
        stack = self.screen_stack
        below = stack[stack.index(screen) - 1] if screen in stack and stack.index(screen) else None
        step = getattr(below, "step_packet", None)
        found = step(delta) if step is not None else None
        main = self.main
        if found is None or main is None:
            self.notify("no next packet" if delta > 0 else "no previous packet", severity="warning")
            return
        node, view, row = found
        name = main._node_name(node)
        if name is None:
            return
        details = await self._details(node, view, row)
        if screen.is_attached:
            screen.replace_packet(details, name, self.clock(), view)

    @work(group="details", exit_on_error=False)
    async def copy_packet(self, node: NodeKey, view: View, row: dict) -> None:
        """Copy a packet's traceback (or error, or LOST reason), sanitised, to the clipboard."""
        DetailsScreen.copy_details(await self._details(node, view, row), self)

    # -- app actions -------------------------------------------------------------------------
    def action_help(self) -> None:
        """Show every key binding."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    def action_refresh(self) -> None:
        """Read the whole root again now."""
        self.read()

    def help_sections(self) -> list[Section]:
        """Binding groups for the help screen, from the classes that declare them."""
        from textual.widgets import OptionList

        from orcatui.app.problems import ProblemList, ProblemsScreen

        return [
            (
                "Everywhere",
                [
                    *self.BINDINGS,
                    Binding("tab", "focus_next", "Next pane"),
                    Binding("shift+tab", "focus_previous", "Previous pane"),
                    Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "Command palette"),
                ],
            ),
            ("Main view", MonitorScreen.BINDINGS),
            ("Node tree", NodeTree.BINDINGS),
            ("Packet table", PacketTable.BINDINGS),
            ("Problems view", [*ProblemsScreen.BINDINGS, *ProblemList.BINDINGS]),
            ("Packet details", DetailsScreen.BINDINGS),
            ("Run picker", [*RunPicker.BINDINGS, *OptionList.BINDINGS]),
            ("Runs grid", [*GridScreen.BINDINGS, *GridView.BINDINGS]),
            ("Run diff", DiffScreen.BINDINGS),
            ("Help", HelpScreen.BINDINGS),
        ]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands plus the monitor's main actions."""
        yield from super().get_system_commands(screen)
        yield from orca_commands(self, screen)
