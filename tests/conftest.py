"""Shared fixtures: paths of the orcapod samples copied into tests/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check behaviour, never time: no per-example deadline (CI machines are shared).
settings.register_profile("orcatui", deadline=None)
settings.load_profile("orcatui")

FIXTURES = Path(__file__).parent / "fixtures"
ORCAPOD = FIXTURES / "orcapod"


@pytest.fixture
def orcapod_sample():
    """Path of an orcapod sample store by name (``ok``, ``failures``, ``multi_tag``)."""

    def get(name: str) -> Path:
        return ORCAPOD / name

    return get
