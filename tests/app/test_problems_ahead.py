"""The problems view's groups are computed ahead, after each frame whose problems changed, on
the model thread: ``p`` then only paints (no second computation); ``r`` recomputes."""

from __future__ import annotations

import pytest
from support.app import ORCAPOD, make_app, settle, sync

import orcatui.app.problems as problems_module
from orcatui.app.problems import ProblemList, ProblemsScreen


async def _until(pilot, cond, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.02)
    assert cond()


@pytest.fixture
def computations(monkeypatch):
    """Every computation of the problems (the real one, counted)."""
    calls: list[float] = []
    real = problems_module.problems

    def counted(monitor, views, now, grouper, cache=None):
        calls.append(now)
        return real(monitor, views, now, grouper, cache)

    monkeypatch.setattr(problems_module, "problems", counted)
    return calls


def test_ahead(computations) -> None:
    @sync
    async def run() -> None:
        app = make_app(ORCAPOD / "failures")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await _until(pilot, lambda: len(computations) == 1)  # after the first frame
            await pilot.press("p")
            await settle(pilot)
            assert isinstance(app.screen, ProblemsScreen)
            plist = app.screen.query_one(ProblemList)
            await _until(pilot, lambda: plist.problems is not None)
            assert plist.problems is not None and plist.problems.packets == 3
            assert len(computations) == 1  # the view showed the groups computed ahead
            await pilot.press("r")  # recompute on demand
            await settle(pilot)
            await _until(pilot, lambda: len(computations) == 2)
            assert plist.problems is not None and plist.problems.packets == 3

    run()


def test_no_computation_without_problems(computations) -> None:
    @sync
    async def run() -> None:
        app = make_app(ORCAPOD / "ok")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.pause(0.1)
            assert computations == []
            await pilot.press("p")  # asked for: computed (and found empty)
            await settle(pilot)
            plist = app.screen.query_one(ProblemList)
            await _until(pilot, lambda: plist.problems is not None)
            assert plist.problems is not None and plist.problems.groups == []
            assert len(computations) == 1

    run()
