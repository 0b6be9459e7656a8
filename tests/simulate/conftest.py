"""Helpers for simulator tests: copies of hello-numpy and small toy jobs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello-numpy" / "job"


@pytest.fixture(autouse=True)
def cohort_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test away from the user's ~/.cohort."""
    home = tmp_path / "home"
    monkeypatch.setenv("COHORT_HOME", str(home))
    return home


def hello_copy(dest: Path, *, num_rounds: int | None = None) -> Path:
    """A copy of examples/hello-numpy/job, with ``num_rounds`` changed if given."""
    job = dest / "job"
    shutil.copytree(HELLO, job, ignore=shutil.ignore_patterns("__pycache__"))
    if num_rounds is not None:
        config = job / "app" / "config" / "config_fed_server.json"
        server = json.loads(config.read_text())
        server["args"]["num_rounds"] = num_rounds
        config.write_text(json.dumps(server))
    return job
