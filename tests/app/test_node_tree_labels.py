"""The node tree remakes a node's line only when what it shows changed (a frame of 200 nodes
otherwise rebuilt 200 labels on the UI thread at every time-cursor step and every poll)."""

from __future__ import annotations

from pathlib import Path

from support.app import sync
from support.events import T0, packet, write_status
from textual.app import App, ComposeResult

from orcatui.app.node_tree import NodeTree
from orcatui.model.monitor import Monitor


class _TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield NodeTree()


def _labels(tree: NodeTree) -> dict:
    return {key: line.label for key, line in tree.node_lines()}


def test_a_line_is_remade_only_when_its_node_changed(tmp_path: Path, monkeypatch) -> None:
    import orcatui.app.node_tree as node_tree

    made: list[str] = []
    real = node_tree.node_label

    def counted(title: str, *args, **kwargs):
        made.append(title)
        return real(title, *args, **kwargs)

    monkeypatch.setattr(node_tree, "node_label", counted)
    _check(tmp_path, made)


@sync
async def _check(tmp_path: Path, made: list[str]) -> None:
    for node in ("a", "b"):
        write_status(tmp_path, "etl", (node,), packet("r1", T0, T0 + 2, "SUCCESS", s="1"))
    monitor = Monitor(tmp_path, clock=lambda: T0 + 10)
    monitor.refresh()
    app = _TreeApp()
    async with app.run_test(size=(100, 20)) as pilot:
        tree = app.query_one(NodeTree)
        tree.update_from(monitor.snapshot())
        await pilot.pause()
        first = _labels(tree)
        assert len(first) == 2 and len(made) == 2
        assert all("1" in label.plain for label in first.values())

        made.clear()
        tree.update_from(monitor.snapshot())  # nothing changed: no label made again
        assert made == []
        assert _labels(tree) == first

        write_status(tmp_path, "etl", ("b",), packet("r1", T0 + 3, T0 + 4, "FAILED", s="2"))
        monitor.refresh()
        tree.update_from(monitor.snapshot())
        await pilot.pause()
        assert len(made) == 1  # only b's line
        after = _labels(tree)
        (a,) = [k for k in first if k[1] == ("a",)]
        (b,) = [k for k in first if k[1] == ("b",)]
        assert after[a] is first[a]  # node a: no new event, its line kept
        assert after[b] is not first[b]
        assert "2" in after[b].plain and "✗" in after[b].plain  # b now counts a FAILED packet
