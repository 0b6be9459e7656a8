"""examples/cross-site-eval: the matrix of every model on every site's own validation data,
from the job run in the simulator (and printed by demo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from cohort.simulate import simulate
from tests.examples.helpers import EXAMPLES, load_example_demo, load_example_module

lib = load_example_module("cross-site-eval", "mlp_lib")
# README: the global model scores 0.861-0.979 on the 4 sites' validation data.
GLOBAL_FLOOR = 0.8


def test_sites_hold_disjoint_skewed_shares() -> None:
    shares = [lib.load_site(i, 4) for i in range(4)]
    rows = sum(len(s[1]) + len(s[3]) for s in shares)
    assert rows == 1797
    mixes = [np.bincount(s[1], minlength=10) for s in shares]
    assert all(m.min() < 0.2 * m.max() for m in mixes), mixes  # label-skewed


def test_the_matrix_of_every_model_on_every_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = simulate(EXAMPLES / "cross-site-eval", 4, workspace=tmp_path / "ws", progress=False)
    assert result.ok, result.reason
    matrix = json.loads((result.result_dir / "workspace" / "cross_site_eval.json").read_text())
    sites = ["site-1", "site-2", "site-3", "site-4"]
    assert matrix["sites"] == sites and matrix["models"] == ["global", *sites]
    cells = {(o, s): matrix["matrix"][s][o]["accuracy"] for o in matrix["models"] for s in sites}
    assert all(0.0 <= v <= 1.0 for v in cells.values())
    assert min(cells["global", s] for s in sites) >= GLOBAL_FLOOR, cells
    # A site's model is best on its own data, and the global model beats it on average
    # elsewhere: the label skew the matrix is there to show.
    for owner in sites:
        assert cells[owner, owner] == max(cells[owner, s] for s in sites), cells
    mean_site = np.mean([cells[o, s] for o in sites for s in sites if o != s])
    assert np.mean([cells["global", s] for s in sites]) > mean_site

    Console(width=120).print(load_example_demo("cross-site-eval").accuracy_table(matrix))
    printed = capsys.readouterr().out
    assert f"{cells['global', 'site-3']:.3f}" in printed and "site-4" in printed
