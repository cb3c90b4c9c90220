"""A packet across every run of its pipeline (details screen), and flaky marks (packet table).

:func:`history_for` and :func:`flaky_row_keys` run on the model thread; the rules are
:mod:`orcatui.model.history`. The details screen shows a :class:`HistoryStrip` under its summary
(one glyph per run, newest first, a duration sparkline under it, the run it last succeeded in) and
a :class:`HistoryList` tab (one line per run: state, duration, error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from rich.text import Text
from textual import work
from textual.widgets import Static

from orcatui.app.render import STATE_MARK, palette_of
from orcatui.app.sanitize import cell
from orcatui.model.durations import format_duration
from orcatui.model.grid import NodeInput, lost_reasons
from orcatui.model.history import PacketHistory, display_flaky_mask, flaky_keys, packet_history
from orcatui.model.naming import node_name
from orcatui.model.views import display_tag_name

if TYPE_CHECKING:
    from orcatui.model.monitor import Monitor, NodeKey

#: The strip shows at most this many runs (the list tab shows all).
STRIP_RUNS = 60
#: The glyph of a run the packet is not in.
ABSENT = "·"


def _node_input(monitor: Monitor, key: NodeKey) -> NodeInput | None:
    pipeline, identity = key
    model = monitor.pipelines.get(pipeline)
    node = model.nodes.get(identity) if model is not None else None
    if node is None:
        return None
    title = node_name(identity, monitor.labels(pipeline)).title
    return NodeInput(identity, title, node.packets.table(), node.packets.version)


def history_for(
    monitor: Monitor, key: NodeKey, row: Mapping[str, Any], now: float
) -> PacketHistory | None:
    """The history of the packet shown by display ``row`` of node ``key`` (model thread)."""
    node = _node_input(monitor, key)
    if node is None:
        return None
    pipeline = key[0]
    verdicts = monitor.verdicts(pipeline, now)
    runs = [r.run_id for r in monitor.run_infos(pipeline, now, verdicts)]
    tag_names = monitor.pipelines[pipeline].nodes[key[1]].packets.tag_names
    tags = {t: _str(row.get(display_tag_name(t))) for t in tag_names}
    return packet_history(node, tags, runs, lost_reasons(verdicts))


def _str(value: object) -> str | None:
    return None if value is None else str(value)


class FlakyCache:
    """Flaky packet keys per node, kept while the node's packets and the runs are the same."""

    def __init__(self) -> None:
        self._data: dict[NodeKey, tuple[tuple, pa.Array]] = {}

    def row_keys(
        self, monitor: Monitor, key: NodeKey, rows: pa.Table | None, runs: Sequence[str]
    ) -> frozenset[str]:
        """Display-row keys of ``rows`` whose packet is flaky (model thread)."""
        if rows is None or rows.num_rows == 0:
            return frozenset()
        model = monitor.pipelines.get(key[0])
        node = model.nodes.get(key[1]) if model is not None else None
        if node is None:
            return frozenset()
        tag = (node.packets.version, tuple(runs[:10]))
        hit = self._data.get(key)
        if hit is None or hit[0] != tag:
            node_in = NodeInput(key[1], "", node.packets.table(), node.packets.version)
            hit = (tag, flaky_keys(node_in, runs))
            self._data[key] = hit
        flaky = hit[1]
        if len(flaky) == 0:
            return frozenset()
        mask = display_flaky_mask(rows, node.packets.tag_names, flaky)
        return frozenset(rows.filter(mask).column("key").to_pylist())


def flaky_row_keys(
    cache: FlakyCache, monitor: Monitor, key: NodeKey, rows: pa.Table | None, runs: Sequence[str]
) -> frozenset[str]:
    """See :meth:`FlakyCache.row_keys`."""
    return cache.row_keys(monitor, key, rows, runs)


def strip_text(h: PacketHistory, palette: Any, limit: int = STRIP_RUNS) -> Text:
    """Three lines: one glyph per run with a sparkline under it, then the last success."""
    entries = h.entries[:limit]
    out = Text()
    out.append("history   ", style="dim")
    for e in entries:
        glyph = STATE_MARK.get(e.state, "?") if e.state else ABSENT
        out.append(glyph, style=palette.state(e.state) if e.state else "dim")
    more = len(h.entries) - len(entries)
    n = len(h.entries)
    out.append(f"  newest first, {n} run{'s' * (n != 1)}", style="dim")
    if more > 0:
        out.append(f" ({more} older not shown)", style="dim")
    if h.flaky:
        out.append("  ≈ flaky", style=palette.state("RUNNING"))
    out.append("\nduration  ", style="dim")
    out.append(h.sparkline[:limit], style="bold")
    out.append("\nlast ok   ", style="dim")
    if h.last_success is None:
        out.append("never succeeded in these runs", style=palette.state("FAILED"))
    else:
        ago = next(i for i, e in enumerate(h.entries) if e.run_id == h.last_success)
        out.append(cell(h.last_success, 40), style="bold")
        out.append(" (newest run)" if ago == 0 else f" ({ago} run{'s' * (ago > 1)} ago)")
    return out


def list_text(h: PacketHistory, palette: Any) -> Text:
    """One line per run, newest first: glyph, run id, state, duration, error."""
    out = Text()
    for i, e in enumerate(h.entries):
        if i:
            out.append("\n")
        glyph = STATE_MARK.get(e.state, "?") if e.state else ABSENT
        style = palette.state(e.state) if e.state else "dim"
        out.append(f"{glyph} ", style=style)
        out.append(cell(e.run_id, 24).ljust(24))
        out.append(f" {(e.state or 'not in run'):<10}", style=style)
        out.append(f" {format_duration(e.duration_s) or '—':>8}")
        if e.error:
            out.append(f"  {cell(e.error, 120)}", style=palette.plain("FAILED"))
    return out


class HistoryStrip(Static):
    """The packet across runs, under the details summary; fetches its data on the model thread."""

    DEFAULT_CSS = """
    HistoryStrip { height: auto; max-height: 3; padding: 0 1; background: $panel;
                   text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, key: NodeKey, row: Mapping[str, Any], **kw: Any) -> None:
        super().__init__(Text("history   …", style="dim"), **kw)
        self.key = key
        self.row = dict(row)
        self.history: PacketHistory | None = None

    def on_mount(self) -> None:
        """Compute the history."""
        self.load()

    def follow(self, row: Mapping[str, Any]) -> None:
        """The packet changed (live): compute again."""
        self.row = dict(row)
        self.load()

    @work(group="history", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """Ask the model thread for the history, then show it here and in the list tab."""
        app: Any = self.app
        monitor, now, key, row = app.source.monitor, app.clock(), self.key, self.row
        future = app.refresher.ask(lambda: history_for(monitor, key, row, now))
        h = await asyncio.wrap_future(future)
        if h is None or not self.is_attached:
            return
        self.history = h
        palette = palette_of(self.app)
        self.update(strip_text(h, palette))
        for widget in self.screen.query(HistoryList):
            widget.update(list_text(h, palette))


class HistoryList(Static):
    """Every run of the packet's pipeline, one line each (the details screen's history tab)."""

    DEFAULT_CSS = """
    HistoryList { padding: 0 1; height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def on_mount(self) -> None:
        """Show the history if the strip already has it (the tab may mount after it loaded)."""
        for strip in self.screen.query(HistoryStrip):
            if strip.history is not None:
                self.update(list_text(strip.history, palette_of(self.app)))
