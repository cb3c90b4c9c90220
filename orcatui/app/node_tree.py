"""The node tree: pipelines (multi-part names nest), then their nodes, each with counts and a bar.

The tree is updated in place on every refresh: labels change, new nodes are added, vanished ones
removed; expansion and the cursor stay where the user left them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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
from orcatui.app.sanitize import cell
from orcatui.model.monitor import NodeInfo, NodeKey, PipelineInfo, Snapshot
from orcatui.model.states import SHOWN_STATES


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
) -> Text:
    """A node's line: title (with its shortened identity when needed), bar, counts.

    Titles are padded to ``width`` so that the bars of a pipeline's nodes line up.
    """
    label = Text(cell(title, 40), style="bold")
    if show_detail and detail:
        label.append(" " + cell(detail, 24), style="dim")
    if label.cell_len < width:
        label.append(" " * (width - label.cell_len))
    label.append(" ")
    label.append_text(count_bar(counts, 6, palette))
    label.append(" ")
    label.append_text(counts_text(counts, compact=True, palette=palette))
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
        Binding("enter", "select_cursor", "Expand/collapse", show=False),
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
            if line.tree is self and line.parent is not None:
                line.remove()

    def _update_nodes(self, parent: TreeNode[TreeRef], p: PipelineInfo) -> Iterable[tuple]:
        titles: dict[str, int] = {}
        for n in p.nodes:
            titles[n.name.title] = titles.get(n.name.title, 0) + 1
        width = max((_title_width(n, titles) for n in p.nodes), default=0)
        for n in p.nodes:
            ident = ("n", n.key)
            label = node_label(
                n.name.title,
                n.name.detail,
                n.counts,
                show_detail=titles[n.name.title] > 1,
                width=width,
                palette=self._palette,
            )
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
