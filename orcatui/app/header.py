"""The header: root, pipeline, run and its liveness, watch backend, freshness, LOST badge."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from orcatui.app.refresher import Frame
from orcatui.app.render import (
    DEFAULT_PALETTE,
    Palette,
    clock_time,
    palette_of,
    pipeline_label,
    verdict_text,
)
from orcatui.app.sanitize import cell
from orcatui.model.durations import format_age, format_duration
from orcatui.model.monitor import PipelineInfo
from orcatui.model.progress import format_eta


def progress_text(p: PipelineInfo) -> Text:
    """The shown run's progress: ``77/200 38% · ETA ~6m (4–9m)``, ``77 done · ETA ?``."""
    out = Text()
    pr = p.progress
    if pr is None:
        return out
    if pr.expected:
        out.append(f"{pr.done:,}/{pr.expected:,}", style="bold")
        out.append(f" {100 * min(pr.done / pr.expected, 1.0):.0f}%")
    else:
        out.append(f"{pr.done:,} done", style="bold")
    live = p.run is not None and p.run.verdict.live
    if live:
        out.append(f" · ETA {format_eta(pr)}")
    return out


def run_span(p: PipelineInfo, now: float) -> str:
    """Start time and duration of a pipeline's shown run (open runs count up to now)."""
    run = p.run
    if run is None or run.started is None:
        return ""
    end = run.ended or (now if run.verdict.live else run.last_event) or now
    # The date only when the run did not start today: the header must fit 80 columns.
    today = time.localtime(run.started)[:3] == time.localtime(now)[:3]
    started = clock_time(run.started, with_date=not today)
    return f"started {started}, {format_duration(end - run.started)}"


def header_text(
    frame: Frame | None,
    root: str,
    pipeline: tuple[str, ...] | None,
    backend: str,
    now: float | None = None,
    palette: Palette = DEFAULT_PALETTE,
    as_of: float | None = None,
) -> Text:
    """The two header lines as one ``Text`` (all pipeline strings plain).

    ``now`` (default: the frame's) re-ages the times between frames.
    """
    now = frame.now if now is None and frame is not None else now
    out = Text()
    out.append(" orcatui ", style="bold reverse")
    out.append(" ")
    out.append(cell(root, 120), style="bold")
    p = frame.pipeline(pipeline) if frame else None
    if p is not None:
        out.append("  ›  ", style="dim")
        out.append(cell(pipeline_label(p.name, frame.snapshot.root), 80), style="bold")
        out.append("  ›  ", style="dim")
        if p.view.all_runs:
            out.append("latest per packet, all runs", style="bold")
        elif p.run is not None:
            out.append(f"run {cell(p.run.run_id, 40)}", style="bold")
            out.append(" (picked)" if p.view.run_id else " (newest)", style="dim")
    out.append("\n ")
    if as_of is not None:  # a historical view: said first, reversed, on every frame
        out.append(f" AS OF {clock_time(as_of, with_date=True)} ", style="bold reverse")
        out.append(" ")
        now = as_of
    if frame is not None:
        lost = sum(pi.counts.get("LOST", 0) for pi in frame.snapshot.pipelines)
        if lost:
            out.append(f" ⊘ {lost} LOST ", style=palette.state("LOST") + Style(reverse=True))
            out.append(" ")
        broken = len(frame.snapshot.broken)
        if broken:
            plural = "s" if broken > 1 else ""
            warn = palette.plain("RUNNING") + Style(reverse=True)  # the theme's warning colour
            out.append(f" {broken} unreadable table{plural} ", style=warn)
            out.append(" ")
    if p is not None and p.run is not None and not p.view.all_runs:
        out.append_text(verdict_text(p.run.verdict, palette))
        span = run_span(p, now) if now is not None else ""
        if span:
            out.append(f"  {span}")
        progress = progress_text(p)
        if progress.cell_len:
            out.append("  │  ", style="dim")
            out.append_text(progress)
        out.append("  │  ", style="dim")
    if as_of is not None:
        out.append("historical: < > event  , . minute  L live", style="italic")
        return out
    out.append(f"watch: {backend}")
    out.append("  │  ", style="dim")
    if frame is None or frame.read_at is None:
        out.append("reading…", style="italic")
    else:
        out.append(f"updated {format_age((now or frame.now) - frame.read_at)} ago")
    return out


class StatusHeader(Static):
    """Two lines at the top of the screen."""

    _shown: Text | None = None

    def show(
        self,
        frame: Frame | None,
        root: str,
        pipeline: tuple[str, ...] | None,
        backend: str,
        now: float | None = None,
        as_of: float | None = None,
    ) -> None:
        """Re-render from the latest frame (only when the text changed); ``as_of``: the
        moment of a historical view.

        Called every second by the tick: no layout pass (the header's height is fixed in
        ``app.tcss``), so a new age repaints these two lines and nothing else.
        """
        text = header_text(frame, root, pipeline, backend, now, palette_of(self.app), as_of)
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)
