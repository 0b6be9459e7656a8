"""Fixtures for integration tests: a real federation that is always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.federation import Federation


@pytest.fixture
def cohort_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test away from the user's ~/.cohort."""
    home = tmp_path / "home"
    monkeypatch.setenv("COHORT_HOME", str(home))
    return home


@pytest.fixture
def federation(tmp_path: Path, cohort_home: Path) -> Iterator[Federation]:
    """Three provisioned sites, not started yet (tests choose what to start)."""
    fed = Federation(tmp_path, 3)
    try:
        yield fed
    finally:
        fed.stop()
