"""The details of one packet: summary, error, traceback, stdout, stderr, Python logs — each scrollable."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from orcatui.app.render import clock_time, state_text
from orcatui.app.sanitize import DETAIL_LIMIT, ansi_text, bounded, cell, plain_text
from orcatui.model.durations import format_duration
from orcatui.model.monitor import PacketDetails
from orcatui.model.naming import NodeName
from orcatui.model.views import ROW_COLUMNS

NO_LOG = "no log row: cached or reused result"

#: (tab id, title, LogRow field or None for the error summary)
SECTIONS = (
    ("error", "error", None),
    ("traceback", "traceback", "traceback"),
    ("stdout", "stdout", "stdout"),
    ("stderr", "stderr", "stderr"),
    ("logs", "python logs", "python_logs"),
)


def bounded_text(value: str | None, *, colour: bool, empty: str) -> Text:
    """A detail value: sanitised, at most :data:`DETAIL_LIMIT` characters, with a note when cut."""
    if value is None or value == "":
        return Text(empty, style="dim italic")
    shown, cut = bounded(value, DETAIL_LIMIT)
    text = ansi_text(shown) if colour else plain_text(shown)
    if cut:
        text.append(
            f"\n… cut: showing the first {len(shown):,} of {len(value):,} characters",
            style="bold yellow",
        )
    return text


def summary_text(details: PacketDetails, name: NodeName, now: float) -> Text:
    """The head of the details: node, tags, run, state, times, LOST reason, log note."""
    row = details.row
    out = Text()
    out.append("node      ", style="dim")
    out.append(cell(name.title, 80), style="bold")
    out.append(f"  {cell(name.function, 80)} {cell(name.detail, 80)}", style="dim")
    tags = [(k, v) for k, v in row.items() if k not in ROW_COLUMNS]
    for k, v in tags:
        out.append(f"\n{cell(k, 30):<10}", style="dim")
        out.append(cell(v, 200))
    out.append("\nrun       ", style="dim")
    out.append(cell(row.get("run_id"), 80))
    out.append("\nstate     ", style="dim")
    out.append_text(state_text(str(row.get("state"))))
    started = row.get("started_us")
    ended = row.get("ts_us")
    out.append("\nstarted   ", style="dim")
    out.append(clock_time(started / 1e6, with_date=True) if started else "—")
    if row.get("state") not in ("RUNNING", "LOST") and ended:
        out.append("   ended ", style="dim")
        out.append(clock_time(ended / 1e6, with_date=True))
    label = "age" if row.get("state") in ("RUNNING", "LOST") else "duration"
    out.append(f"   {label} ", style="dim")
    out.append(format_duration(row.get("duration_s")) or "—")
    if row.get("lost_reason"):
        out.append("\nlost      ", style="dim")
        out.append(
            cell(f"left in RUNNING: {row['lost_reason']}", 300), style="bold magenta"
        )
    if details.log is None:
        out.append("\nlog       ", style="dim")
        out.append(NO_LOG, style="italic")
    return out


class DetailsScreen(Screen[None]):
    """Everything about one packet; each section scrolls on its own."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("c", "copy", "Copy traceback/error"),
        Binding("1", "tab('error')", "Error", show=False),
        Binding("2", "tab('traceback')", "Traceback", show=False),
        Binding("3", "tab('stdout')", "Stdout", show=False),
        Binding("4", "tab('stderr')", "Stderr", show=False),
        Binding("5", "tab('logs')", "Python logs", show=False),
    ]

    def __init__(self, details: PacketDetails, name: NodeName, now: float) -> None:
        super().__init__()
        self.details = details
        self.node_name = name
        self.now = now

    def compose(self) -> ComposeResult:
        """Summary on top, one tab per section below."""
        yield Static(summary_text(self.details, self.node_name, self.now), id="details-summary")
        log = self.details.log
        with TabbedContent(initial=self._first_tab(), id="details-tabs"):
            for tab_id, title, field in SECTIONS:
                if field is None:
                    value = self.details.row.get("error")
                    empty = "no error" if self.details.row.get("state") != "LOST" else "no error (lost)"
                    text = bounded_text(value, colour=False, empty=empty)
                elif log is None:
                    text = Text(NO_LOG, style="dim italic")
                else:
                    text = bounded_text(
                        getattr(log, field),
                        colour=field in ("stdout", "stderr"),
                        empty=f"no {title}",
                    )
                with TabPane(title, id=tab_id), VerticalScroll(classes="details-body"):
                    yield Static(text, classes="details-text")
        yield Footer()

    def _first_tab(self) -> str:
        log = self.details.log
        if log is not None and log.traceback:
            return "traceback"
        return "error"

    def action_tab(self, tab: str) -> None:
        """Show one section."""
        self.query_one(TabbedContent).active = tab

    def copy_text(self) -> tuple[str, str] | None:
        """What ``c`` copies: the traceback, else the error, else the LOST reason."""
        log = self.details.log
        row = self.details.row
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
        found = self.copy_text()
        if found is None:
            self.notify("nothing to copy: no traceback or error", severity="warning")
            return
        what, value = found
        self.app.copy_to_clipboard(value)
        self.notify(f"copied {what} ({len(value.splitlines())} lines)", markup=False)
