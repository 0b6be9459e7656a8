"""examples/fedprox-heterogeneous: its label-skewed split, the proximal term in local training,
and FedAvg against FedProx in the simulator (demo.py), each equal to the same federation
computed in one process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.examples.helpers import load_example_demo, load_example_module

lib = load_example_module("fedprox-heterogeneous", "fedprox_lib")
# README: after 10 rounds on 10 sites, FedAvg 0.858 and FedProx (mu 0.1) 0.818.
ACCURACY_FLOOR = 0.75


def test_each_site_sees_two_digits_and_the_shares_are_disjoint() -> None:
    shares = [lib.load_site(i, 10) for i in range(10)]
    # Two shards of the label-sorted rows each: a shard that straddles a digit boundary adds a
    # few images of a third digit (measured: at most 6 of 134).
    for _, y in shares:
        top_two = np.sort(np.bincount(y, minlength=10))[-2:].sum()
        assert top_two >= 0.9 * len(y), np.bincount(y)
    assert sum(len(y) for _, y in shares) + len(lib.load_test()[1]) == 1797


def test_the_proximal_term_keeps_local_training_near_the_global_model() -> None:
    X, y = lib.load_site(0, 10)
    start = lib.init_params()
    free, held = lib.train(start, X, y, mu=0.0), lib.train(start, X, y, mu=1.0)
    distance = [sum(float(np.sum((m[k] - start[k]) ** 2)) for k in m) for m in (free, held)]
    assert distance[1] < distance[0]
    assert not start["w"].any()  # training does not touch its input


def test_fedavg_and_fedprox_in_the_simulator(tmp_path: Path) -> None:
    demo = load_example_demo("fedprox-heterogeneous")
    results = demo.compare(sites=10, rounds=10, mu=0.1, work=tmp_path)
    curves = {name: demo.accuracies(result) for name, result in results.items()}
    for name, result in results.items():
        assert result.ok, result.reason
        assert len(curves[name]) == 11 and curves[name][-1] >= ACCURACY_FLOOR, curves
        assert result.rounds[-1]["num_updates"] == 10
    assert curves["fedavg"] != curves["fedprox"]  # mu changes the sites' training
    # Each equals its federation computed in one process, round by round.
    assert curves["fedavg"][1:] == pytest.approx(lib.reference(10, 10, mu=0.0), abs=1e-9)
    assert curves["fedprox"][1:] == pytest.approx(lib.reference(10, 10, mu=0.1), abs=1e-9)
