"""One packet in full: summary, error, traceback, stdout, stderr, Python logs, each scrollable."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from orcatui.app.footer import KeyFooter
from orcatui.app.history import HistoryList, HistoryStrip
from orcatui.app.render import DEFAULT_PALETTE, Palette, clock_time, palette_of, state_text
from orcatui.app.sanitize import DETAIL_LIMIT, bounded, cell, plain_text
from orcatui.app.text_view import TextView
from orcatui.model.durations import format_duration
from orcatui.model.logs import no_log_reason
from orcatui.model.monitor import PacketDetails
from orcatui.model.naming import NodeName
from orcatui.model.views import ROW_COLUMNS, View
from orcatui.text import for_clipboard

#: (tab id, title, LogRow field or None for the error summary)
SECTIONS = (
    ("error", "error", None),
    ("traceback", "traceback", "traceback"),
    ("stdout", "stdout", "stdout"),
    ("stderr", "stderr", "stderr"),
    ("logs", "python logs", "python_logs"),
)


def section_view(
    value: str | None,
    *,
    colour: bool,
    empty: str,
    style: Style | str = "",
    partial: str | None = None,
) -> Widget:
    """A detail value, at most :data:`DETAIL_LIMIT` characters (noted when cut), scrollable;
    ``partial`` (see :func:`partial_note`) is said under the text, where its output stops."""
    if value is None or value == "":
        text = Text(empty, style="dim italic")
        if partial:
            text.append(f"\n{PARTIAL_MARK} {partial}", style="bold")
        return Static(text, classes="details-empty")
    shown, cut = bounded(value, DETAIL_LIMIT)
    note = f"… cut: showing the first {len(shown):,} of {len(value):,} characters" if cut else None
    if partial:
        note = f"{PARTIAL_MARK} {partial}" + (f"  ({note})" if note else "")
    return TextView(shown, colour=colour, style=style, note=note, classes="details-text")


#: Marks output that is not the packet's final log row (design.md §3 partial log rows).
PARTIAL_MARK = "▲ PARTIAL OUTPUT:"


def partial_note(details: PacketDetails) -> str | None:
    """What a partial log row means for this packet (None: the log row is final, or none).

    A logging observer writes a running packet's output so far (``_log_success`` null) and
    replaces it with a final row when the packet ends; a packet that never ended keeps the
    partial row: its output up to the last flush; what it printed after that is not on disk.
    """
    log = details.log
    if log is None or log.success is not None:
        return None
    at = clock_time(log.ts_us / 1e6) if log.ts_us is not None else "an unknown time"
    state = details.row.get("state")
    if state == "RUNNING":
        return f"so far, last written at {at}; the packet is still running"
    if state == "LOST":
        return f"up to its last flush at {at}, before the packet was lost"
    return f"up to {at}; the packet's final log row was never written"


def summary_text(
    details: PacketDetails, name: NodeName, now: float, palette: Palette = DEFAULT_PALETTE
) -> Text:
    """The head of the details: node, tags, run, state, times, LOST reason, log note."""
    row = details.row
    out = Text()
    out.append("node      ", style="dim")
    out.append(cell(name.title, 80), style="bold")
    out.append(f"  {cell(name.function, 80)} {cell(name.detail, 80)}", style="dim")
    tags = [(k, v) for k, v in row.items() if k not in ROW_COLUMNS]
    for k, v in tags:
        out.append(f"\n{cell(k, 30) + ' ':<10}", style="dim")
        out.append(cell(v, 200))
    out.append("\nrun       ", style="dim")
    out.append(cell(row.get("run_id"), 80))
    out.append("\nstate     ", style="dim")
    out.append_text(state_text(str(row.get("state")), palette))
    started = row.get("started_us")
    ended = row.get("ts_us")
    out.append("\nstarted   ", style="dim")
    out.append(clock_time(started / 1e6, with_date=True) if started else "—")
    if row.get("state") not in ("RUNNING", "LOST") and ended:
        out.append("   ended ", style="dim")
        out.append(clock_time(ended / 1e6, with_date=True))
    # RUNNING: still counting; LOST: how long it ran, until its run's last sign of life
    label = {"RUNNING": "age", "LOST": "ran"}.get(str(row.get("state")), "duration")
    out.append(f"   {label} ", style="dim")
    out.append(format_duration(row.get("duration_s")) or "—")
    if row.get("lost_reason"):
        out.append("\nlost      ", style="dim")
        out.append(cell(f"left in RUNNING: {row['lost_reason']}", 300), style=palette.state("LOST"))
    error = row.get("error")
    if error:
        lines = plain_text(bounded(error, 2000)[0]).split("\n")
        out.append("\nerror     ", style="dim")
        for i, line in enumerate(lines[:3]):
            out.append_text(Text("\n          ") if i else Text())
            line.truncate(300)
            line.stylize(palette.plain("FAILED"))
            out.append_text(line)
        if len(lines) > 3:
            out.append(f"  (+{len(lines) - 3} lines: see the error tab)", style="dim")
    if details.log is None:
        out.append("\nlog       ", style="dim")
        out.append(log_note(str(details.row.get("state"))), style="italic")
    partial = partial_note(details)
    if partial is not None:
        out.append("\nlog       ", style="dim")
        out.append(f"{PARTIAL_MARK} ", style=palette.plain("LOST") + Style(bold=True))
        out.append(partial, style="italic")
    return out


def exception_line(view: TextView) -> int | None:
    """The display line of a traceback's exception (the first unindented line after the last
    ``File "…"`` frame), or None."""
    last_frame = None
    for i, line in enumerate(view.source):
        if line.lstrip().startswith('File "'):
            last_frame = i
    if last_frame is None:
        return None
    source = next(
        (
            i
            for i in range(last_frame + 1, len(view.source))
            if view.source[i] and not view.source[i][0].isspace()
        ),
        None,
    )
    if source is None:
        return None
    for display, (src, _start, _end) in enumerate(view._wrap):
        if src == source:
            return display
    return source


def log_note(state: str) -> str:
    """Why a packet has no log row (yet): a running packet's log is written when it ends."""
    if state == "RUNNING":
        return "no log row yet: the packet is still running (its log is written when it ends)"
    return no_log_reason(state)


def _sections(details: PacketDetails, palette: Palette) -> dict[str, Widget]:
    """One widget per tab for a packet's current details."""
    state = str(details.row.get("state"))
    log = details.log
    out: dict[str, Widget] = {}
    for tab_id, title, field in SECTIONS:
        if field is None:
            empty = "no error" if state != "LOST" else "no error (lost)"
            out[tab_id] = section_view(
                details.row.get("error"), colour=False, empty=empty, style=palette.plain("FAILED")
            )
        elif log is None:
            out[tab_id] = Static(Text(log_note(state), style="dim italic"), classes="details-empty")
        else:
            out[tab_id] = section_view(
                getattr(log, field),
                colour=field in ("stdout", "stderr"),
                empty=f"no {title}",
                partial=partial_note(details) if field != "traceback" else None,
            )
    return out


def _section_key(details: PacketDetails, field: str | None) -> object:
    """What a tab shows, to tell whether it changed."""
    if field is None:
        return ("error", details.row.get("state") == "LOST", details.row.get("error"))
    if details.log is None:
        return ("none", log_note(str(details.row.get("state"))))
    return ("log", getattr(details.log, field), partial_note(details))


class DetailsScreen(Screen[None]):
    """Everything about one packet; each section scrolls on its own; follows the packet live.

    The app calls :meth:`show` with the packet's current details whenever a new frame is applied;
    only the sections whose content changed are replaced (the others keep their scroll position).
    """

    BINDINGS = [  # noqa: RUF012
        Binding("escape,backspace,q", "app.pop_screen", "Back"),
        Binding("n", "step(1)", "Next packet"),
        Binding("N", "step(-1)", "Previous packet"),
        Binding("c", "copy", "Copy traceback/error"),
        Binding("j,down", "text('down')", "Scroll down", show=False),
        Binding("k,up", "text('up')", "Scroll up", show=False),
        Binding("g,home", "text('home')", "Top", show=False),
        Binding("G,end", "text('end')", "Bottom", show=False),
        Binding("ctrl+d", "text('half_down')", "Half a page down", show=False),
        Binding("ctrl+u", "text('half_up')", "Half a page up", show=False),
        Binding("1", "tab('error')", "Error", show=False),
        Binding("2", "tab('traceback')", "Traceback", show=False),
        Binding("3", "tab('stdout')", "Stdout", show=False),
        Binding("4", "tab('stderr')", "Stderr", show=False),
        Binding("5", "tab('logs')", "Python logs", show=False),
        Binding("6", "tab('history')", "History", show=False),
    ]

    def __init__(
        self, details: PacketDetails, name: NodeName, now: float, view: View | None = None
    ) -> None:
        super().__init__()
        self.details = details
        self.node_name = name
        self.now = now
        self.view = view or View()
        self._shown = {tab: _section_key(details, f) for tab, _, f in SECTIONS}

    def compose(self) -> ComposeResult:
        """Summary on top, one tab per section below."""
        palette = palette_of(self.app)
        yield Static(
            summary_text(self.details, self.node_name, self.now, palette), id="details-summary"
        )
        yield HistoryStrip(self.details.node, self.details.row, id="details-history")
        widgets = _sections(self.details, palette)
        with TabbedContent(initial=self._first_tab(), id="details-tabs"):
            for tab_id, title, _ in SECTIONS:
                with TabPane(title, id=tab_id):
                    yield widgets[tab_id]
            with TabPane("history", id="history"), VerticalScroll(classes="details-text"):
                yield HistoryList(Text("…", style="dim"), id="history-list")
        yield KeyFooter()

    def show(self, details: PacketDetails, now: float) -> None:
        """Show the packet's current details (state, times, log once it is written)."""
        first_before = self._first_tab()
        if details.row.get("state") != self.details.row.get("state"):
            self.query_one(HistoryStrip).follow(details.row)  # its newest run changed
        self.details = details
        self.now = now
        self.query_one("#details-summary", Static).update(
            summary_text(details, self.node_name, now, palette_of(self.app))
        )
        widgets: dict[str, Widget] | None = None
        for tab_id, _, field in SECTIONS:
            key = _section_key(details, field)
            if key == self._shown.get(tab_id):
                continue
            self._shown[tab_id] = key
            widgets = widgets or _sections(details, palette_of(self.app))
            pane = self.query_one(f"#{tab_id}", TabPane)
            pane.remove_children()
            pane.mount(widgets[tab_id])
        tabs = self.query_one(TabbedContent)
        if self._first_tab() != first_before and tabs.active == first_before:
            tabs.active = self._first_tab()  # the traceback arrived: show it, as on opening

    def _first_tab(self) -> str:
        """The traceback when there is one, else the first tab with something in it."""
        log = self.details.log
        if log is not None and log.traceback:
            return "traceback"
        if self.details.row.get("error"):
            return "error"
        for tab_id, _, field in SECTIONS:
            if field is not None and log is not None and getattr(log, field):
                return tab_id
        return "error"

    def on_mount(self) -> None:
        """Focus the shown section's text and scroll a traceback to its exception line."""
        self.call_after_refresh(self._settle_view)

    def _settle_view(self) -> None:
        tabs = self.query_one(TabbedContent)
        pane = self.query_one(f"#{tabs.active}", TabPane) if tabs.active else None
        view = next(iter(pane.query(TextView)), None) if pane is not None else None
        if view is None:
            return
        view.focus()
        if tabs.active == "traceback":
            line = exception_line(view)
            if line is not None:
                height = max(view.scrollable_content_region.height, 1)
                view.scroll_to(y=max(0, line - height + 3), animate=False, immediate=True)

    def _active_text(self) -> TextView | None:
        tabs = self.query_one(TabbedContent)
        if not tabs.active:
            return None
        return next(iter(self.query_one(f"#{tabs.active}", TabPane).query(TextView)), None)

    def action_text(self, how: str) -> None:
        """Scroll the shown section's text (j/k, g/G, ctrl+d/ctrl+u)."""
        view = self._active_text()
        if view is None:
            return
        half = max(view.scrollable_content_region.height // 2, 1)
        moves = {
            "down": lambda: view.scroll_relative(y=1, animate=False),
            "up": lambda: view.scroll_relative(y=-1, animate=False),
            "home": lambda: view.scroll_home(animate=False),
            "end": lambda: view.scroll_end(animate=False),
            "half_down": lambda: view.scroll_relative(y=half, animate=False),
            "half_up": lambda: view.scroll_relative(y=-half, animate=False),
        }
        moves[how]()

    def action_step(self, delta: int) -> None:
        """Show the next (``n``) or previous (``N``) packet of the list this was opened from."""
        self.app.step_details(self, delta)  # type: ignore[attr-defined]

    def replace_packet(
        self, details: PacketDetails, name: NodeName, now: float, view: View
    ) -> None:
        """Show another packet here (``n`` / ``N``): its sections, first tab, focus, scroll."""
        self.node_name = name
        self.view = view
        self.show(details, now)
        self.query_one(TabbedContent).active = self._first_tab()
        self.call_after_refresh(self._settle_view)

    def action_tab(self, tab: str) -> None:
        """Show one section."""
        self.query_one(TabbedContent).active = tab

    @staticmethod
    def copy_text(details: PacketDetails) -> tuple[str, str] | None:
        """What ``c`` copies: the traceback, else the error, else the LOST reason."""
        log = details.log
        row = details.row
        for what, value in (
            ("traceback", log.traceback if log else None),
            ("error", row.get("error")),
            ("lost reason", row.get("lost_reason")),
        ):
            if value:
                return what, value
        return None

    def action_copy(self) -> None:
        """Copy the traceback (or error) to the clipboard via OSC 52."""
        self.copy_details(self.details, self.app)

    @classmethod
    def copy_details(cls, details: PacketDetails, app: App) -> None:
        """Copy a packet's traceback (or error), sanitised and bounded, and say what was copied.

        The text goes through :func:`orcatui.text.for_clipboard`: no terminal escape reaches
        whatever it is pasted into, and at most :data:`orcatui.text.COPY_LIMIT` characters go.
        """
        found = cls.copy_text(details)
        if found is None:
            app.notify("nothing to copy: no traceback or error", severity="warning")
            return
        what, value = found
        text, cut = for_clipboard(value)
        app.copy_to_clipboard(text)
        lines = len(text.splitlines())
        if cut:
            app.notify(
                f"copied {what}, cut to the first {len(text):,} of {len(value):,} characters "
                f"({lines:,} lines)",
                severity="warning",
                markup=False,
            )
        else:
            app.notify(f"copied {what} ({lines:,} lines)", markup=False)
