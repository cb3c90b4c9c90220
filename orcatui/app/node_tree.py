"""The node tree: pipelines (multi-part names nest), then their nodes, each with counts and a bar.

The tree is updated in place on every refresh: labels change, new nodes are added, vanished ones
removed; expansion and the cursor stay where the user left them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from orcatui.app.render import (
    DEFAULT_PALETTE,
    Palette,
    count_bar,
    counts_text,
    palette_of,
    pipeline_label,
)
from orcatui.app.render import STATE_MARK as STATE_MARK_OF
from orcatui.app.sanitize import cell
from orcatui.model.monitor import NodeInfo, NodeKey, PipelineInfo, Snapshot
from orcatui.model.progress import Progress
from orcatui.model.states import SHOWN_STATES

#: The order of a progress bar's done part (then RUNNING, then the empty rest).
DONE_ORDER = ("SUCCESS", "CACHED", "FAILED")
BAR_WIDTH = 6
#: Columns of the tree outside a node's text (border, scrollbar, the guide of the top level).
TREE_CHROME = 4


def progress_bar(
    counts: dict[str, int],
    expected: int,
    width: int = BAR_WIDTH,
    palette: Palette = DEFAULT_PALETTE,
) -> Text:
    """done of ``expected``: one cell per ``expected / width`` packets, coloured by state
    (SUCCESS, CACHED, FAILED; then RUNNING and LOST), the not-yet-done rest visibly empty."""
    bar = Text()
    scale = width / max(expected, 1)
    used = 0
    for s in (*DONE_ORDER, "RUNNING", "LOST"):
        n = counts.get(s, 0)
        if not n:
            continue
        cells = max(1, round(n * scale)) if s in ("FAILED", "LOST") else round(n * scale)
        cells = min(cells, width - used)
        if cells:
            bar.append(("█" if s in DONE_ORDER else "▒") * cells, style=palette.plain(s))
            used += cells
    if used < width:
        bar.append("░" * (width - used), style="dim")
    return bar


def middle_cut(text: str, width: int) -> str:
    """``text`` shortened in the middle with … to at most ``width`` cells."""
    from rich.cells import cell_len

    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def flag_text(counts: dict[str, int], slow: int, palette: Palette = DEFAULT_PALETTE) -> Text:
    """The counts that must stay visible: ✗ failed, ⊘ lost, slow."""
    out = Text()
    for s in ("LOST", "FAILED"):
        n = counts.get(s, 0)
        if n:
            out.append(f" {n}{STATE_MARK_OF[s]}", style=palette.state(s))
    if slow:
        out.append(f" {slow} slow", style=palette.state("RUNNING") + Style(reverse=True))
    return out


@dataclass(frozen=True)
class TreeRef:
    """What a tree line stands for: a group of pipelines, a pipeline, or a node."""

    kind: str  # "group" | "pipeline" | "node"
    pipeline: tuple[str, ...]
    node: NodeKey | None = None


def _add_counts(total: dict[str, int], counts: dict[str, int]) -> None:
    for s in SHOWN_STATES:
        total[s] = total.get(s, 0) + counts.get(s, 0)


def node_label(
    title: str,
    detail: str,
    counts: dict[str, int],
    *,
    show_detail: bool,
    width: int = 0,
    palette: Palette = DEFAULT_PALETTE,
    progress: Progress | None = None,
    slow: int = 0,
    room: int | None = None,
) -> Text:
    """A node's line: title (with its shortened identity when needed), bar, counts.

    Titles are padded to ``width`` so that the bars of a pipeline's nodes line up. With a
    known ``progress.expected`` the bar is a progress bar (done of expected). With ``room``
    (the cells the line may take), a long title is shortened in the middle so that the
    bar and the ✗ ⊘ slow counts stay visible.
    """
    flags = flag_text(counts, slow, palette)
    total = Text(
        f"{progress.done}/{progress.expected}"
        if progress is not None and progress.expected
        else str(sum(counts.get(s, 0) for s in SHOWN_STATES)),
        style="bold",
    )
    running = counts.get("RUNNING", 0)
    if running and not (progress is not None and progress.expected):  # the bar shows them
        total.append(f" {running}{STATE_MARK_OF['RUNNING']}", style=palette.state("RUNNING"))
    title_text = cell(title, 40)
    detail_text = " " + cell(detail, 24) if show_detail and detail else ""
    if room is not None:
        tail = 1 + BAR_WIDTH + 1 + total.cell_len + flags.cell_len
        budget = max(room - tail, 6)
        width = min(width, budget)
        if len(title_text) + len(detail_text) > budget:
            keep = max(budget - len(detail_text), 6)
            title_text = middle_cut(title_text, keep)
            detail_text = middle_cut(detail_text, max(budget - len(title_text), 0))
    label = Text(title_text, style="bold")
    if detail_text:
        label.append(detail_text, style="dim")
    if label.cell_len < width:
        label.append(" " * (width - label.cell_len))
    label.append(" ")
    if progress is not None and progress.expected:
        label.append_text(progress_bar(counts, progress.expected, BAR_WIDTH, palette))
    else:
        label.append_text(count_bar(counts, BAR_WIDTH, palette))
    label.append(" ")
    label.append_text(total)
    label.append_text(flags)
    return label


def _title_width(node: NodeInfo, titles: dict[str, int]) -> int:
    label = Text(cell(node.name.title, 40))
    if titles[node.name.title] > 1 and node.name.detail:
        label.append(" " + cell(node.name.detail, 24))
    return min(label.cell_len, 32)


def group_label(name: str, counts: dict[str, int], palette: Palette = DEFAULT_PALETTE) -> Text:
    """A pipeline (or a group of pipelines) line: name and aggregate counts."""
    label = Text(cell(name, 60), style="bold underline")
    label.append(" ")
    label.append_text(counts_text(counts, compact=True, palette=palette))
    return label


class NodeTree(Tree[TreeRef]):
    """Pipelines and their nodes; highlight a node to show its packets."""

    BINDINGS = [  # noqa: RUF012
        Binding(
            "enter", "select_cursor", "Expand/collapse (on a node: into its packets)", show=False
        ),
        Binding("right", "into_table", "Into the node's packets", show=False),
        Binding("home,g", "scroll_home", "First line", show=False),
        Binding("end,G", "scroll_end", "Last line", show=False),
        Binding("ctrl+d", "half(1)", "Half a page down", show=False),
        Binding("ctrl+u", "half(-1)", "Half a page up", show=False),
        Binding("space", "toggle_node", "Expand/collapse", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("shift+left", "cursor_parent", "Parent", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("pipelines"), TreeRef("group", ()), id=id)
        self.show_root = False
        self.guide_depth = 2
        self._lines: dict[tuple, TreeNode[TreeRef]] = {}
        self._labels: dict[tuple, Text] = {}
        #: per node line, what its label was made from (and the label): unchanged, not remade
        self._made: dict[tuple, tuple[tuple, Text]] = {}
        self._palette = DEFAULT_PALETTE

    def update_from(self, snapshot: Snapshot) -> None:
        """Bring the tree in line with a snapshot, in place (colours from the app's theme)."""
        palette = self._palette = palette_of(self.app)
        seen: set[tuple] = set()
        groups: dict[tuple[str, ...], dict[str, int]] = {}
        for p in snapshot.pipelines:
            for i in range(1, len(p.name)):
                _add_counts(groups.setdefault(p.name[:i], {}), p.counts)
        for p in snapshot.pipelines:
            parent = self.root
            for i in range(1, len(p.name)):
                prefix = p.name[:i]
                ident = ("g", prefix)
                seen.add(ident)
                parent = self._ensure(
                    parent,
                    ident,
                    group_label(prefix[-1], groups[prefix], palette),
                    TreeRef("group", prefix),
                )
            ident = ("p", p.name)
            seen.add(ident)
            title = p.name[-1] if p.name else pipeline_label(p.name, snapshot.root)
            pline = self._ensure(
                parent, ident, group_label(title, p.counts, palette), TreeRef("pipeline", p.name)
            )
            seen.update(self._update_nodes(pline, p))
        for ident in [i for i in self._lines if i not in seen]:
            line = self._lines.pop(ident)
            self._labels.pop(ident, None)
            self._made.pop(ident, None)
            if line.tree is self and line.parent is not None:
                line.remove()

    def _update_nodes(self, parent: TreeNode[TreeRef], p: PipelineInfo) -> Iterable[tuple]:
        titles: dict[str, int] = {}
        for n in p.nodes:
            titles[n.name.title] = titles.get(n.name.title, 0) + 1
        width = max((_title_width(n, titles) for n in p.nodes), default=0)
        depth = max(len(p.name), 1)
        room = max((self.size.width or 36) - TREE_CHROME - self.guide_depth * depth, 16)
        for n in p.nodes:
            ident = ("n", n.key)
            show_detail = titles[n.name.title] > 1
            made = (n.name, n.counts, show_detail, width, self._palette, n.progress, n.slow, room)
            last = self._made.get(ident)
            if last is not None and last[0] == made and ident in self._lines:
                yield ident  # the same line as shown: no label to build (a frame of 200 nodes)
                continue
            label = node_label(
                n.name.title,
                n.name.detail,
                n.counts,
                show_detail=show_detail,
                width=width,
                palette=self._palette,
                progress=n.progress,
                slow=n.slow,
                room=room,
            )
            self._made[ident] = (made, label)
            self._ensure(parent, ident, label, TreeRef("node", p.name, n.key), leaf=True)
            yield ident

    def _ensure(
        self,
        parent: TreeNode[TreeRef],
        ident: tuple,
        label: Text,
        ref: TreeRef,
        *,
        leaf: bool = False,
    ) -> TreeNode[TreeRef]:
        line = self._lines.get(ident)
        if line is None:
            line = parent.add_leaf(label, ref) if leaf else parent.add(label, ref, expand=True)
            self._lines[ident] = line
            self._labels[ident] = label
        elif self._labels.get(ident) != label:
            line.set_label(label)
            self._labels[ident] = label
        return line

    def action_select_cursor(self) -> None:
        """Enter: on a pipeline, expand/collapse; on a node, move into its packet table."""
        node = self.cursor_node
        if node is not None and node.data is not None and node.data.kind == "node":
            self.action_into_table()
            return
        super().action_select_cursor()

    def action_into_table(self) -> None:
        """Move the focus into the packet table of the node under the cursor."""
        node = self.cursor_node
        if node is None or node.data is None or node.data.kind != "node":
            if node is not None and not node.is_expanded and node.children:
                node.expand()
            return
        focus = getattr(self.screen, "focus_table", None)
        if focus is not None:
            focus()

    def action_half(self, direction: int) -> None:
        """Move the cursor half a screenful (``ctrl+d`` / ``ctrl+u``)."""
        half = max(self.scrollable_content_region.height // 2, 1)
        line = max(0, min(self.cursor_line + direction * half, self.last_line))
        self.cursor_line = line

    def line_of(self, key: NodeKey) -> TreeNode[TreeRef] | None:
        """The tree line of a node."""
        return self._lines.get(("n", key))

    def put_cursor_on(self, key: NodeKey) -> None:
        """Move the cursor to a node's line (no-op when the node has no line)."""
        line = self.line_of(key)
        if line is None:
            return
        # Lines are numbered lazily; asking for one lays them out if a change left them stale.
        self.get_node_at_line(0)
        if line.line >= 0 and self.cursor_node is not line:
            self.move_cursor(line)

    def node_lines(self) -> Iterator[tuple[NodeKey, TreeNode[TreeRef]]]:
        """Every node line (not pipelines), in tree order, with its node key."""
        for ident, line in self._lines.items():
            if ident[0] == "n":
                yield ident[1], line

    def first_node(self) -> TreeNode[TreeRef] | None:
        """The first node line (not a pipeline), in tree order."""
        for ident, line in self._lines.items():
            if ident[0] == "n":
                return line
        return None
