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


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} changed: cannot find {old!r}"  # fail loudly, not quietly
    path.write_text(text.replace(old, new))


def hello_copy(
    dest: Path,
    *,
    num_rounds: int | None = None,
    shares: int | None = None,
    cache_data: bool = False,
) -> Path:
    """A copy of examples/hello-numpy/job, optionally changed for scale tests.

    ``shares``: the example cuts its 170 malignant training rows into one label-skewed share
    per site and refuses more sites than that; with ``shares`` site k trains on share
    (k - 1) mod ``shares``. ``cache_data``: load the bundled data set once per process
    instead of once per site (sklearn re-parses its CSV on every call).
    """
    job = dest / "job"
    shutil.copytree(HELLO, job, ignore=shutil.ignore_patterns("__pycache__"))
    custom = job / "app" / "custom"
    if num_rounds is not None:
        config = job / "app" / "config" / "config_fed_server.json"
        server = json.loads(config.read_text())
        server["args"]["num_rounds"] = num_rounds
        config.write_text(json.dumps(server))
    if shares is not None:
        _replace(
            custom / "train.py",
            'n_sites = int(os.environ.get("COHORT_NUM_SITES", "3"))\n'
            "    X, y = load_split(site_index(site), n_sites, args.seed)",
            f'n_sites = min(int(os.environ.get("COHORT_NUM_SITES", "3")), {shares})\n'
            "    X, y = load_split(site_index(site) % n_sites, n_sites, args.seed)",
        )
    if cache_data:
        _replace(
            custom / "hello_numpy_lib.py",
            "from sklearn.datasets import load_breast_cancer\n",
            "import functools\n\nfrom sklearn.datasets import load_breast_cancer\n\n"
            "load_breast_cancer = functools.cache(load_breast_cancer)\n",
        )
    return job
