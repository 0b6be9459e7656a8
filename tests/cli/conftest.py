"""Fixtures for CLI tests: a private COHORT_HOME for every test (helpers: helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def cohort_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own $COHORT_HOME and no startup kit from the environment."""
    home = tmp_path / "cohort-home"
    monkeypatch.setenv("COHORT_HOME", str(home))
    monkeypatch.delenv("COHORT_STARTUP_KIT_DIR", raising=False)
    yield home
