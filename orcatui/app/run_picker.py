"""The run picker: every run of a pipeline, newest first, plus "latest per packet, all runs"."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from orcatui.app.render import (
    STATE_MARK,
    Palette,
    clock_time,
    palette_of,
    pipeline_label,
    verdict_text,
)
from orcatui.app.sanitize import cell
from orcatui.model.durations import format_duration
from orcatui.model.monitor import PipelineInfo, RunInfo
from orcatui.model.runids import RunIdError, resolve_run_id
from orcatui.model.views import View

ALL_RUNS = "\x00all"


def run_prompt(run: RunInfo, now: float, current: bool, palette: Palette) -> Text:
    """One run as a picker line: id and liveness, start and end, counts.

    Each part on a line of its own that fits the picker at 80 columns: the end's date only when
    it differs from the start's (a run's own lines must not wrap into each other).
    """
    out = Text("• " if current else "  ", style="bold")
    out.append(cell(run.run_id, 36), style="bold")
    out.append("  ")
    out.append_text(verdict_text(run.verdict, palette))
    out.append("\n    started ", style="dim")
    out.append(clock_time(run.started, with_date=True))
    if run.ended is not None:
        out.append("  ended ", style="dim")
        out.append(clock_time(run.ended, with_date=not _same_day(run.started, run.ended)))
        if run.started is not None:
            out.append(f" ({format_duration(run.ended - run.started)})", style="dim")
    out.append("\n    ")
    for state, n in run.counts.items():
        if n:
            out.append(f"{STATE_MARK[state]} {n} {state.lower()}  ", style=palette.state(state))
    if not any(run.counts.values()):
        out.append("no packets", style="dim")
    return out


def _same_day(a: float | None, b: float) -> bool:
    return a is not None and time.localtime(a)[:3] == time.localtime(b)[:3]


class RunList(OptionList):
    """The run picker's list, with the keys terminal users expect in any list (less, k9s)."""

    BINDINGS = [  # noqa: RUF012
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First run", show=False),
        Binding("G", "last", "Last run", show=False),
        Binding("ctrl+d", "page_down", "Page down", show=False),
        Binding("ctrl+u", "page_up", "Page up", show=False),
    ]


class RunPicker(ModalScreen[View | None]):
    """Pick which run a pipeline is shown by."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,q", "dismiss_none", "Cancel"),
        Binding("enter", "pick", "Show this run", show=True),
        Binding("m", "mark", "Mark for diff"),
        Binding("d", "diff", "Diff with marked"),
        Binding("slash", "type_run", "Type a run id or prefix"),
    ]

    def __init__(self, pipeline: PipelineInfo, now: float, root: Path) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.now = now
        self.root = root
        self.marked: str | None = None  # a run marked as one side of a diff

    def compose(self) -> ComposeResult:
        """A title and the list of runs."""
        p = self.pipeline
        with Vertical(id="run-picker"):
            name = pipeline_label(p.name, self.root)
            yield Label(Text(f"runs of {cell(name, 80)}", style="bold"))
            options = [
                Option(
                    Text(("• " if p.view.all_runs else "  ") + "latest per packet, all runs"),
                    id=ALL_RUNS,
                ),
            ]
            palette = palette_of(self.app)
            current = None if p.view.all_runs else (p.run.run_id if p.run else None)
            options += [
                Option(run_prompt(r, self.now, r.run_id == current, palette), id=r.run_id)
                for r in p.runs
            ]
            ol = RunList(*options, id="run-list")
            yield ol
            yield Input(placeholder="run id or unique prefix, enter to show it", id="run-prefix")

    def on_mount(self) -> None:
        """Put the highlight on the run shown now."""
        ol = self.query_one(OptionList)
        p = self.pipeline
        if p.view.all_runs:
            ol.highlighted = 0
        elif p.run is not None:
            ids = [r.run_id for r in p.runs]
            ol.highlighted = ids.index(p.run.run_id) + 1 if p.run.run_id in ids else 0
        ol.focus()

    def _view_of(self, option_id: str | None) -> View | None:
        if option_id is None:
            return None
        if option_id == ALL_RUNS:
            return View(all_runs=True)
        newest = self.pipeline.runs[0].run_id if self.pipeline.runs else None
        return View() if option_id == newest else View(run_id=option_id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter or click: show that run."""
        event.stop()
        self.dismiss(self._view_of(event.option.id))

    def action_pick(self) -> None:
        """Show the highlighted run."""
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.dismiss(self._view_of(ol.get_option_at_index(ol.highlighted).id))

    def action_dismiss_none(self) -> None:
        """Close without changing the view (from the prefix field: back to the list)."""
        field = self.query_one("#run-prefix", Input)
        if field.has_class("shown"):
            field.remove_class("shown")
            field.value = ""
            self.query_one(OptionList).focus()
            return
        self.dismiss(None)

    def action_type_run(self) -> None:
        """Show the field to type a run id or a unique prefix of one."""
        field = self.query_one("#run-prefix", Input)
        field.add_class("shown")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Show the run a typed id or prefix names; one line of error if it names none or many."""
        event.stop()
        try:
            run = resolve_run_id(event.value.strip(), [r.run_id for r in self.pipeline.runs])
        except RunIdError as exc:
            self.app.notify(str(exc), severity="error", markup=False)
            return
        self.dismiss(self._view_of(run))

    def _highlighted_run(self) -> str | None:
        ol = self.query_one(OptionList)
        if ol.highlighted is None:
            return None
        oid = ol.get_option_at_index(ol.highlighted).id
        return oid if oid in {r.run_id for r in self.pipeline.runs} else None

    def action_mark(self) -> None:
        """Mark the highlighted run as one side of a diff (again: unmark)."""
        run = self._highlighted_run()
        if run is None:
            return
        self.marked = None if self.marked == run else run
        if self.marked:
            self.app.notify(f"marked {cell(run, 40)}: highlight another run and press d")

    def action_diff(self) -> None:
        """Diff the marked run against the highlighted one (older → newer); default pair else."""
        from orcatui.app.diff_view import open_diff

        run = self._highlighted_run()
        ids = [r.run_id for r in self.pipeline.runs]
        pair = None
        if self.marked in ids and run is not None and run != self.marked:
            a, b = ids.index(self.marked), ids.index(run)
            pair = (ids[max(a, b)], ids[min(a, b)])  # runs are newest first
        open_diff(self.app, self.pipeline.name, pipeline_label(self.pipeline.name, self.root), pair)
