"""The diff of two runs as a screen: one row per changed packet, both errors one key away.

Opened from the grid (``d``, with a marked run or the default pair) or the run picker (mark a run
with ``m``, then ``d`` on another). Rows are grouped per node in tree order, then by kind
(regressed, fixed, new, missing, slower); the state column reads ``SUCCESS → FAILED``. The pane
under the table shows the cursor packet's error in FROM and in TO; ``e`` (or Enter) makes it
large. The rules are :mod:`orcatui.model.diff`; this only renders a :class:`RunDiff`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from orcatui.app.footer import KeyFooter
from orcatui.app.render import palette_of
from orcatui.app.sanitize import bounded, cell, plain_text
from orcatui.model.diff import PacketChange, RunDiff, default_pair, diff_runs
from orcatui.model.grid import pipeline_inputs

if TYPE_CHECKING:
    from orcatui.model.monitor import Monitor

Pipeline = tuple[str, ...]
#: At most this many changed packets become table rows (the title still counts all).
MAX_ROWS = 5000
KINDS = ("regressed", "fixed", "new", "missing", "slower")
_KIND_STATE = {
    "regressed": "FAILED",
    "fixed": "SUCCESS",
    "new": "CACHED",
    "missing": "RUNNING",
    "slower": "RUNNING",
}


def compute_diff(
    monitor: Monitor, pipeline: Pipeline, now: float, pair: tuple[str, str] | None
) -> RunDiff | str:
    """The diff of ``pair`` (default: the default pair), or why there is none (model thread)."""
    if pipeline not in monitor.pipelines:
        return "the pipeline is gone"
    inputs = pipeline_inputs(monitor, pipeline, now)
    if pair is None:
        pair = default_pair(inputs)
        if pair is None:
            return "no earlier run shares a node with the newest run: nothing to compare"
    return diff_runs(inputs, *pair)


def open_diff(app: App, pipeline: Pipeline, title: str, pair: tuple[str, str] | None) -> None:
    """Push a diff screen for ``pair`` of ``pipeline``, computed on the app's model thread."""
    orca: Any = app

    def ask() -> Any:
        monitor = orca.source.monitor
        now = orca.clock()
        return orca.refresher.ask(lambda: compute_diff(monitor, pipeline, now, pair))

    app.push_screen(DiffScreen(title, ask))


def state_change(c: PacketChange, kind: str) -> str:
    """``SUCCESS → FAILED``, or the one state of a new/missing packet, or the two durations."""
    if kind == "slower":
        return f"{c.from_s:.1f} s → {c.to_s:.1f} s"
    return f"{c.from_state or '—'} → {c.to_state or '—'}"


def _tags(tags: dict[str, str | None]) -> str:
    return " ".join(f"{k}={v}" for k, v in tags.items() if v is not None) or "(no tags)"


class DiffScreen(Screen[None]):
    """Changed packets of two runs; the cursor packet's errors in FROM and TO below."""

    DEFAULT_CSS = """
    #diff-title { height: auto; max-height: 2; padding: 0 1; background: $panel; }
    #diff-table { height: 1fr; }
    #diff-errors { height: 6; padding: 0 1; background: $boost; overflow-y: auto; }
    #diff-errors.large { height: 60%; }
    """
    BINDINGS = [  # noqa: RUF012
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("e,enter", "errors", "Both errors"),
    ]

    def __init__(self, title: str, ask: Any) -> None:
        super().__init__()
        self.title_text = title
        self._ask = ask  # () → a future of RunDiff | str
        self.diff: RunDiff | None = None
        self.changes: list[tuple[str, str, PacketChange]] = []  # (node name, kind, change)

    def compose(self) -> ComposeResult:
        """Title, table of changes, errors pane."""
        yield Static(Text("diff …"), id="diff-title")
        table: DataTable = DataTable(id="diff-table", cursor_type="row", zebra_stripes=False)
        yield table
        yield Static(id="diff-errors")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Compute the diff."""
        self.query_one(DataTable).focus()
        self.load()

    @work(group="diff", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """Compute the diff on the model thread, then show it."""
        result = await asyncio.wrap_future(self._ask())
        if self.is_attached:
            self.show(result)

    def show(self, result: RunDiff | str) -> None:
        """Fill the title and the table."""
        title = self.query_one("#diff-title", Static)
        table = self.query_one(DataTable)
        if isinstance(result, str):
            title.update(Text(f"{cell(self.title_text, 60)}: {result}"))
            return
        self.diff = result
        palette = palette_of(self.app)
        head = Text()
        head.append("diff ", style="dim")
        head.append(cell(result.from_run, 40), style="bold")
        head.append(" → ", style="dim")
        head.append(cell(result.to_run, 40), style="bold")
        head.append(f"  {cell(self.title_text, 40)}\n", style="dim")
        for kind, n in result.totals().items():
            style = palette.state(_KIND_STATE[kind]) if n else "dim"
            head.append(f"{n:,} {kind}", style=style)
            head.append("  ")
        title.update(head)
        table.clear(columns=True)
        table.add_columns("node", "change", "tags", "state", "error")
        self.changes = []
        for node in result.nodes:
            for kind in KINDS:
                for c in getattr(node, kind):
                    self.changes.append((node.name, kind, c))
        rows = []
        kind_text = {k: Text(k, style=palette.state(_KIND_STATE[k])) for k in KINDS}
        for name, kind, c in self.changes[:MAX_ROWS]:
            to_style = palette.state(c.to_state) if c.to_state else "dim"
            error = c.to_error or c.from_error
            rows.append(
                (
                    Text(cell(name, 24)),
                    kind_text[kind],
                    Text(cell(_tags(c.tags), 40)),
                    Text(cell(state_change(c, kind), 24), style=to_style),
                    Text(cell(error, 80) if error else "", style=palette.plain("FAILED")),
                )
            )
        table.add_rows(rows)  # one update of the table, not one per row
        if len(self.changes) > MAX_ROWS:
            table.add_row(Text(f"… and {len(self.changes) - MAX_ROWS:,} more (see summary --diff)"))
        if not self.changes:
            table.add_row(Text("no packet changed", style="dim italic"))
        self._show_errors()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        """The errors pane follows the cursor."""
        self._show_errors()

    def _show_errors(self) -> None:
        pane = self.query_one("#diff-errors", Static)
        row = self.query_one(DataTable).cursor_row
        if not self.changes or row is None or not 0 <= row < min(len(self.changes), MAX_ROWS):
            pane.update("")
            return
        assert self.diff is not None
        _name, _kind, c = self.changes[row]
        palette = palette_of(self.app)
        out = Text()
        for label, run, state, error in (
            ("before", self.diff.from_run, c.from_state, c.from_error),
            ("after ", self.diff.to_run, c.to_state, c.to_error),
        ):
            out.append(f"{label} ", style="dim")
            out.append(cell(run, 24), style="bold")
            out.append(f" {state or 'not in this run'}  ", style=palette.state(state or ""))
            if error:
                out.append("\n")
                out.append_text(plain_text(bounded(error, 4000)[0], palette.plain("FAILED")))
            else:
                out.append("no error", style="dim italic")
            out.append("\n")
        pane.update(out)

    def action_errors(self) -> None:
        """Make the errors pane large (again: small)."""
        self.query_one("#diff-errors", Static).toggle_class("large")
