"""Fixtures for the observers tests."""

from __future__ import annotations

import os
import sys

import pytest
from support.observers import REPO


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (children use it too)."""
    return sys.executable


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for child processes: the repository on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
