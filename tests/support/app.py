"""Helpers for the app tests: fixed clock, fixture paths, app factory, waiting for workers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

os.environ["TZ"] = "UTC"
time.tzset()

from textual.worker import WorkerCancelled  # noqa: E402

from orcatui.app.main import OrcaApp  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
ORCAPOD = FIXTURES / "orcapod"
APP_FIXTURES = FIXTURES / "app"
#: 2026-11-28T16:40:00Z: about 50 minutes after the orcapod samples were written.
CLOCK = 1795884000.0


def fixed_clock() -> float:
    """The injected clock of every snapshot test."""
    return CLOCK


def make_app(root: Path, **kw: object) -> OrcaApp:
    """A static app on ``root`` with the fixed clock (job labels for the orcapod samples)."""
    jobs = (
        [ORCAPOD / f"{root.name}.job.json"] if (ORCAPOD / f"{root.name}.job.json").exists() else []
    )
    options: dict[str, object] = {
        "clock": fixed_clock,
        "static": True,
        "tick": None,
        "job_files": jobs,
    }
    options.update(kw)
    return OrcaApp(shown_as_typed(root), **options)  # type: ignore[arg-type]


def shown_as_typed(root: Path) -> Path:
    """A fixture root as a user would type it from the repository (``tests/fixtures/…``).

    The header shows the root as given; a path relative to the repository keeps snapshots the
    same in any checkout. Needs the working directory to be the repository (see conftest).
    """
    try:
        rel = root.resolve().relative_to(REPO)
    except ValueError:
        return root
    return rel if Path.cwd().resolve() == REPO else root


async def settle(pilot: object) -> None:
    """Wait until every model worker has finished and the screen has caught up."""
    app = pilot.app  # type: ignore[attr-defined]
    calm = 0
    for _ in range(400):
        # An exclusive worker replaced by a newer one ends cancelled: a normal outcome here.
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]
        # twice in a row: a frame just applied may have moved the selection (a new request)
        calm = calm + 1 if app.idle and not any(w.is_running for w in app.workers) else 0
        if calm >= 2:
            break
        if not calm:
            await pilot.pause(0.01)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


async def wait_for(pilot: object, cond: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Pause until ``cond()`` holds (for live tests driven by real files)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    return cond()


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with ``asyncio.run`` (no async pytest plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper
