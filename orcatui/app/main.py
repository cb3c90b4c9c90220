"""The monitor app: reads and folds the model in worker threads, renders frames on the UI thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree

from orcatui.app.commands import orca_commands
from orcatui.app.details import DetailsScreen
from orcatui.app.filters import BY_NAME, FILTERS
from orcatui.app.frame import Frame
from orcatui.app.header import StatusHeader
from orcatui.app.help import HelpScreen, Section
from orcatui.app.node_tree import NodeTree, TreeRef
from orcatui.app.packet_table import EMPTY_ROWS, PacketTable
from orcatui.app.run_picker import RunPicker
from orcatui.app.sanitize import cell
from orcatui.model.monitor import Monitor, NodeKey, filter_rows
from orcatui.model.runs import DEFAULT_STALE_AFTER_S
from orcatui.model.views import View
from orcatui.store.store import RootError

try:  # the change feed lands separately; without it the app polls by itself
    from orcatui.watch import ChangeFeed
except ImportError:  # pragma: no cover - depends on the checkout
    ChangeFeed = None  # type: ignore[assignment,misc]

MonitorFactory = Callable[[], Monitor]
#: Re-evaluate ages and liveness this often (no disk read).
TICK_S = 1.0
#: With a change feed, read everything this often anyway.
SAFETY_REFRESH_S = 30.0
#: Without a change feed, poll this often.
FALLBACK_POLL_S = 2.0
#: While the root is gone, try again this often.
RETRY_S = 2.0


@dataclass
class _Request:
    """Work waiting for the model thread, merged from several requests."""

    read: bool = False
    rediscover: bool = False
    only: set[Path] | None = None  # None = every table


class MonitorScreen(Screen[None]):
    """Header, node tree, packet table, footer."""

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
    ]

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
        yield Footer()

    @property
    def orca(self) -> OrcaApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def action_pick_run(self) -> None:
        """Open the run picker for the selected pipeline."""
        self.orca.pick_run()

    def action_state(self, name: str) -> None:
        """Show only packets in some states."""
        self.orca.set_filter(name)

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
            self.orca.set_search("")
            self.query_one(PacketTable).focus()

    def action_copy(self) -> None:
        """Copy the selected packet's traceback or error."""
        self.orca.copy_selected()

    def action_details(self) -> None:
        """Open the selected packet."""
        row = self.query_one(PacketTable).cursor_row()
        if row is not None:
            self.orca.open_details(row)

    def action_toggle_tree(self) -> None:
        """Hide or show the node tree (more room on small terminals)."""
        self.query_one(NodeTree).toggle_class("hidden")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Search as you type."""
        self.orca.set_search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search field: back to the table."""
        if not event.value:
            event.input.remove_class("shown")
        self.query_one(PacketTable).focus()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[TreeRef]) -> None:
        """Moving in the tree selects what the table shows."""
        ref = event.node.data
        if ref is not None:
            self.orca.select(ref)

    def on_packet_table_opened(self, event: PacketTable.Opened) -> None:
        """Enter on a packet."""
        self.orca.open_details(event.row)


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
        source: Path | MonitorFactory,
        *,
        clock: Callable[[], float] = time.time,
        poll: float | None = None,
        static: bool = False,
        stale_after: float = DEFAULT_STALE_AFTER_S,
        job_files: Sequence[Path] = (),
        tick: float | None = TICK_S,
        safety_refresh: float = SAFETY_REFRESH_S,
        use_feed: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(source, Path):
            root = source

            def factory() -> Monitor:
                return Monitor(root, stale_after=stale_after, job_files=job_files, clock=clock)

            self.monitor_factory: MonitorFactory = factory
        else:
            self.monitor_factory = source
        self.clock = clock
        self.monitor = self.monitor_factory()
        self.root = self.monitor.root
        self.poll = poll
        self.static = static
        self.tick = tick
        self.safety_refresh = safety_refresh
        self.use_feed = use_feed and ChangeFeed is not None and not static
        self.backend = "static" if static else self._fallback_label()
        self.views: dict[tuple[str, ...], View] = {}
        self.selected: NodeKey | None = None
        self.selected_pipeline: tuple[str, ...] | None = None
        self.state_filter = "all"
        self.search = ""
        self.frame: Frame | None = None
        self._lock = threading.Lock()  # guards the pending request and the busy flag
        self._model_lock = threading.Lock()  # one thread touches the monitor at a time
        self._pending: _Request | None = None
        self._busy = False
        self._read_at: float | None = None
        self._root_error: str | None = None
        self._reset_monitor = False
        self._feed_task: asyncio.Task[None] | None = None
        self._feed: ChangeFeed | None = None
        self._notified: set[str] = set()

    def _fallback_label(self) -> str:
        if ChangeFeed is None or not self.use_feed:
            return f"polling every {self.poll or FALLBACK_POLL_S:g}s"
        return "starting…"

    @property
    def feed_backend(self) -> str:
        """The change feed's own label, once it runs."""
        return self._feed.backend if self._feed is not None else self.backend

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        """Show the main screen, read the root, start the feed and timers."""
        self.push_screen(MonitorScreen())
        self.request(read=True, rediscover=True)
        if self.tick:
            self.set_interval(self.tick, self._on_tick)
        if self.use_feed:
            self._feed_task = asyncio.create_task(self._consume_feed())
            self._feed_task.add_done_callback(lambda _t: None)
            self.set_interval(self.safety_refresh, lambda: self.request(read=True, rediscover=True))
        elif not self.static:
            self.set_interval(
                self.poll or FALLBACK_POLL_S, lambda: self.request(read=True, rediscover=True)
            )
        self.set_interval(RETRY_S, self._retry_root)

    def on_unmount(self) -> None:
        """Stop the feed."""
        if self._feed is not None:
            with contextlib.suppress(Exception):
                self._feed.stop()
        if self._feed_task is not None:
            self._feed_task.cancel()

    def _on_tick(self) -> None:
        self.request()

    def _retry_root(self) -> None:
        if self._root_error is not None:
            self.request(read=True, rediscover=True)

    async def _consume_feed(self) -> None:
        """Turn change-feed batches into targeted reads; restart the feed if it fails."""
        assert ChangeFeed is not None
        while True:
            try:
                feed = self._feed = ChangeFeed(self.root, poll=self.poll, static=self.static)
                self.backend = feed.backend
                async for changes in feed.changes():
                    self.request(
                        read=True, only=set(changes.tables) or None, rediscover=changes.rescan
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.backend = f"feed stopped ({cell(exc, 60)}); retrying"
            await asyncio.sleep(RETRY_S)

    @property
    def idle(self) -> bool:
        """True when no frame is being computed or waiting to be."""
        with self._lock:
            return not self._busy and self._pending is None

    # -- the model thread --------------------------------------------------------------------
    def request(
        self, *, read: bool = False, rediscover: bool = False, only: set[Path] | None = None
    ) -> None:
        """Ask for a new frame (after reading the disk when ``read``); requests coalesce."""
        start = False
        with self._lock:
            p = self._pending
            if p is None:
                p = self._pending = _Request(read, rediscover, None if not read else only)
            else:
                if read:
                    if not p.read:
                        p.only = only
                    elif p.only is not None:
                        p.only = None if only is None else p.only | only
                p.read |= read
                p.rediscover |= rediscover
            if not self._busy:
                self._busy = True
                start = True
        if start:
            self._model_worker()

    @work(thread=True, group="model", exit_on_error=False)
    def _model_worker(self) -> None:
        """Drain pending requests: read, fold, compute a frame, hand it to the UI thread."""
        while True:
            with self._lock:
                p, self._pending = self._pending, None
                if p is None:
                    self._busy = False
                    return
            try:
                with self._model_lock:
                    frame = self._compute(p)
            except Exception as exc:  # never kill the app for one bad frame
                with self._lock:
                    self._busy = self._pending is not None and self._busy
                self.call_from_thread(
                    self.notify, f"refresh failed: {cell(exc, 200)}", severity="error", markup=False
                )
                if not self._busy:
                    return
                continue
            try:
                self.call_from_thread(self._apply, frame)
            except RuntimeError:  # the app is closing
                with self._lock:
                    self._busy = False
                return

    def _compute(self, p: _Request) -> Frame:
        now = self.clock()
        problems: list[str] = []
        if p.read:
            try:
                if self._reset_monitor:
                    self.root.stat()  # still gone? raise before throwing the old model away
                    self.monitor = self.monitor_factory()
                    self._reset_monitor = False
                    p = _Request(True, True, None)
                result = self.monitor.refresh(
                    only=None if p.rediscover else p.only, rediscover=p.rediscover
                )
                problems = list(result.problems)
                self._read_at = now
                self._root_error = None
            except (RootError, OSError) as exc:
                self._root_error = str(exc) or f"{self.root}: cannot be read"
                self._reset_monitor = True
        monitor = self.monitor
        snapshot = monitor.snapshot(self.views, now)
        node = self.selected
        rows = None
        total = 0
        known = {n.key for pi in snapshot.pipelines for n in pi.nodes}
        if node is not None and node in known:
            view = self.views.get(node[0], View())
            raw = monitor.packet_rows(node, view, now)
            total = raw.num_rows
            states = BY_NAME[self.state_filter].states
            rows = filter_rows(raw, states, self.search) if states or self.search else raw
        return Frame(snapshot, now, self._read_at, node, rows, total, self._root_error, problems)

    # -- the UI thread -----------------------------------------------------------------------
    @property
    def main(self) -> MonitorScreen | None:
        """The main screen (it may be under a details or picker screen)."""
        for screen in self.screen_stack:
            if isinstance(screen, MonitorScreen):
                return screen
        return None

    def _apply(self, frame: Frame) -> None:
        """Render a frame: header, banner, tree, table; notify new problems."""
        self.frame = frame
        for problem in frame.problems:
            if problem not in self._notified:
                self._notified.add(problem)
                self.notify(problem, title="unreadable data", severity="warning", markup=False)
        screen = self.main
        if screen is None:
            return
        tree = screen.query_one(NodeTree)
        tree.update_from(frame.snapshot)
        if self.selected is None:
            first = tree.first_node()
            if first is not None and first.data is not None:
                self.select(first.data)
                self.call_after_refresh(tree.move_cursor, first)
        self._render_header(screen)
        self._render_banner(screen, frame)
        self._render_table(screen, frame)

    def _render_header(self, screen: MonitorScreen) -> None:
        screen.query_one(StatusHeader).show(
            self.frame, str(self.root), self.selected_pipeline, self.backend
        )

    def _render_banner(self, screen: MonitorScreen, frame: Frame) -> None:
        banner = screen.query_one("#banner", Static)
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
            banner.update(Text(f"waiting for status tables under {cell(str(self.root), 300)} …"))
            banner.set_classes("waiting")
        else:
            banner.set_classes("")

    def _render_table(self, screen: MonitorScreen, frame: Frame) -> None:
        table = screen.query_one(PacketTable)
        bar = screen.query_one("#filter-bar", Static)
        if frame.node is None or frame.node != self.selected or frame.rows is None:
            if not frame.snapshot.pipelines:
                placeholder = f"waiting for status tables under {self.root} …"
            elif self.selected is None:
                placeholder = "select a node in the tree"
            else:
                placeholder = "…"
            if self.selected is None or not frame.snapshot.pipelines:
                table.set_rows(
                    EMPTY_ROWS, now=frame.now, node=None, placeholder=cell(placeholder, 300)
                )
                bar.update(Text(""))
            return
        view = self.views.get(frame.node[0], View())
        shown = frame.rows.num_rows
        filt = BY_NAME[self.state_filter]
        if frame.total == 0:
            placeholder = "no packets in this run"
        else:
            placeholder = f"no {filt.name} packets" if filt.states else "no packets"
            if self.search:
                placeholder += f" matching {self.search!r}"
        table.set_rows(
            frame.rows,
            now=frame.now,
            node=(frame.node, view),
            show_run=view.all_runs,
            placeholder=cell(placeholder, 300),
        )
        bar.update(self._filter_text(frame, shown))

    def _filter_text(self, frame: Frame, shown: int) -> Text:
        out = Text()
        out.append(f"{shown:,}", style="bold")
        out.append(f" of {frame.total:,} packets")
        if self.state_filter != "all":
            out.append("  filter ", style="dim")
            out.append(f" {self.state_filter} ", style="bold reverse")
        if self.search:
            out.append("  search ", style="dim")
            out.append(f" {cell(self.search, 60)} ", style="bold reverse")
        p = frame.pipeline(self.selected_pipeline)
        for n in p.nodes if p is not None else ():
            if n.key == frame.node:
                out.append("  │  ", style="dim")
                out.append(cell(n.name.title, 60), style="bold")
                out.append(f" {cell(n.name.function, 60)} {cell(n.name.detail, 60)}", style="dim")
        return out

    # -- actions -----------------------------------------------------------------------------
    def select(self, ref: TreeRef) -> None:
        """Show a node's packets (or, for a pipeline line, just remember the pipeline)."""
        if ref.kind == "group":
            return
        self.selected_pipeline = ref.pipeline
        if ref.kind == "node" and ref.node != self.selected:
            self.selected = ref.node
            self.request()
        elif self.main is not None:
            self._render_header(self.main)

    def set_filter(self, name: str) -> None:
        """Apply a state filter."""
        self.state_filter = name
        self.request()

    def set_search(self, text: str) -> None:
        """Filter by tag values containing ``text``."""
        self.search = text
        self.request()

    def pick_run(self) -> None:
        """Open the run picker for the selected pipeline."""
        p = self.frame.pipeline(self.selected_pipeline) if self.frame else None
        if p is None:
            self.notify("no pipeline yet", severity="warning")
            return

        def picked(view: View | None) -> None:
            if view is not None:
                self.views[p.name] = view
                self.request()

        self.push_screen(RunPicker(p, self.frame.now if self.frame else self.clock()), picked)

    def open_details(self, row: dict) -> None:
        """Fetch a packet's log row in a worker, then show its details."""
        if self.selected is not None:
            self._details_worker(self.selected, row, copy=False)

    def copy_selected(self) -> None:
        """Copy the selected packet's traceback (or error) to the clipboard."""
        screen = self.main
        row = screen.query_one(PacketTable).cursor_row() if screen else None
        if row is None or self.selected is None:
            self.notify("no packet selected", severity="warning")
            return
        self._details_worker(self.selected, row, copy=True)

    @work(thread=True, group="details", exit_on_error=False)
    def _details_worker(self, key: NodeKey, row: dict, copy: bool) -> None:
        with self._model_lock:
            details = self.monitor.details(key, row)
        name = None
        if self.frame is not None:
            for p in self.frame.snapshot.pipelines:
                for n in p.nodes:
                    if n.key == key:
                        name = n.name
        if name is None:
            return
        screen = DetailsScreen(details, name, self.frame.now if self.frame else self.clock())
        if copy:
            self.call_from_thread(screen.copy_to, self)
        else:
            self.call_from_thread(self.push_screen, screen)

    def action_help(self) -> None:
        """Show every key binding."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_sections()))

    def action_refresh(self) -> None:
        """Read the whole root again now."""
        self.request(read=True, rediscover=True)

    def help_sections(self) -> list[Section]:
        """Binding groups for the help screen, from the classes that declare them."""
        from textual.widgets import OptionList

        return [
            (
                "Everywhere",
                [
                    *self.BINDINGS,
                    Binding(self.COMMAND_PALETTE_BINDING, "command_palette", "Command palette"),
                ],
            ),
            ("Main view", MonitorScreen.BINDINGS),
            ("Packet table", PacketTable.BINDINGS),
            ("Node tree", NodeTree.BINDINGS),
            ("Packet details", DetailsScreen.BINDINGS),
            ("Run picker", [*RunPicker.BINDINGS, *OptionList.BINDINGS]),
            ("Help", HelpScreen.BINDINGS),
        ]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands plus the monitor's main actions."""
        yield from super().get_system_commands(screen)
        yield from orca_commands(self, screen)
