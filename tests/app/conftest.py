"""Shared set-up for the app tests (times shown in UTC; see app_helpers)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.app import APP_FIXTURES, ORCAPOD, REPO


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run app tests from the repository root, so fixture roots are shown as relative paths."""
    monkeypatch.chdir(REPO)


@pytest.fixture
def copy_sample(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture root into tmp_path (for tests that write into it)."""

    def copy(name: str) -> Path:
        src = ORCAPOD / name if (ORCAPOD / name).exists() else APP_FIXTURES / name
        dst = tmp_path / name
        shutil.copytree(src, dst)
        return dst

    return copy
