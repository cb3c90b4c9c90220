"""Fixtures for the change-feed tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.watch import make_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small root: one status table with a file, a log table dir, ``_runs``, ``_result``."""
    return make_root(tmp_path / "root")


@pytest.fixture(params=["inotify", "polling"])
def feed_kwargs(request: pytest.FixtureRequest) -> dict[str, float]:
    """ChangeFeed keyword arguments for each backend (polling forced at 0.1 s)."""
    return {} if request.param == "inotify" else {"poll": 0.1}
