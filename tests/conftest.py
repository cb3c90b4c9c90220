"""Shared fixtures: paths of the orcapod samples copied into tests/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ORCAPOD = FIXTURES / "orcapod"


@pytest.fixture
def orcapod_sample():
    """Path of an orcapod sample store by name (``ok``, ``failures``, ``multi_tag``)."""

    def get(name: str) -> Path:
        return ORCAPOD / name

    return get
