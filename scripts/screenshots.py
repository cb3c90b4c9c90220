"""Regenerate the SVG screenshots of the main views: ``.venv/bin/python scripts/screenshots.py``."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

os.environ["TZ"] = "UTC"
time.tzset()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.app import APP_FIXTURES, ORCAPOD, make_app, settle  # noqa: E402

from orcatui.app.node_tree import NodeTree  # noqa: E402
from orcatui.app.packet_table import PacketTable  # noqa: E402

OUT = REPO / "screenshots"


async def select(pilot, title: str) -> None:
    """Move the tree cursor to a node by title."""
    await settle(pilot)
    tree = pilot.app.main.query_one(NodeTree)
    for _key, line in tree.node_lines():
        if str(line.label).startswith(title):
            tree.move_cursor(line)
    await settle(pilot)


async def failed_details(pilot) -> None:
    """The score node, failed only, first packet's details."""
    await select(pilot, "score")
    await pilot.press("f")
    await settle(pilot)
    pilot.app.main.query_one(PacketTable).focus()
    await pilot.press("enter")
    await settle(pilot)


async def press(pilot, *keys: str) -> None:
    """Settle, press keys, settle."""
    await settle(pilot)
    await pilot.press(*keys)
    await settle(pilot)


Shot = tuple[str, Path, tuple[int, int], Callable[..., Awaitable[None]]]
SHOTS: list[Shot] = [
    ("overview", ORCAPOD / "failures", (120, 36), lambda p: select(p, "score")),
    ("overview-80x24", ORCAPOD / "failures", (80, 24), lambda p: select(p, "score")),
    ("details-failed", ORCAPOD / "failures", (120, 36), failed_details),
    ("crashed-run-lost", APP_FIXTURES / "crashed", (120, 36), settle),
    ("run-picker", APP_FIXTURES / "three_runs", (120, 36), lambda p: press(p, "r")),
    ("multi-tag", ORCAPOD / "multi_tag", (120, 36), lambda p: select(p, "score")),
    ("help", ORCAPOD / "failures", (120, 36), lambda p: press(p, "question_mark")),
]


async def shoot(name: str, root: Path, size: tuple[int, int], before) -> Path:
    """Run the app headless, drive it, save one SVG."""
    app = make_app(root)
    async with app.run_test(size=size) as pilot:
        await before(pilot)
        path = app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
    return Path(path)


def main() -> None:
    """Write every screenshot."""
    os.chdir(REPO)  # roots are shown relative to the repository, as a user would type them
    OUT.mkdir(exist_ok=True)
    for shot in SHOTS:
        print(asyncio.run(shoot(*shot)).relative_to(REPO))


if __name__ == "__main__":
    main()
