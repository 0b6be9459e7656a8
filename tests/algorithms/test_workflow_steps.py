"""Each workflow's server step, run in the simulator on the deterministic toy script and
checked round by round against the same step computed directly in numpy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.simulate import simulate
from cohort.simulate.result import SimulationResult
from cohort.states import JobStatus
from cohort.workflows.sampling import sample_sites
from tests.algorithms.reference import reference
from tests.algorithms.toyjob import X0, offset, toy_job

N = 4
SITES = [f"site-{i}" for i in range(1, N + 1)]


@pytest.fixture(autouse=True)
def cohort_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))


def run(
    tmp_path: Path,
    workflow: str,
    args: dict[str, Any],
    script_args: list[str] | None = None,
    n: int = N,
) -> SimulationResult:
    job = toy_job(tmp_path / "job", workflow, args, script_args)
    result = simulate(job, n, threads=2, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    return result


def models(result: SimulationResult) -> list[dict[str, np.ndarray]]:
    folder = result.result_dir / "workspace" / "models"
    return [load_file(str(folder / f"round-{r['round']}.safetensors")) for r in result.rounds]


def weighted_answer(x: np.ndarray, r: int, sites: list[int]) -> np.ndarray:
    """FedAvg of the toy sites' round-r answers to x."""
    weights = np.array([10.0 * i for i in sites])
    return np.asarray(np.average([x + offset(i, r) for i in sites], axis=0, weights=weights))


def test_fedavg_with_sampling_averages_exactly_the_sampled_sites(tmp_path: Path) -> None:
    args = {"num_rounds": 4, "sample_count": 2, "sample_seed": 5, "min_clients": 2}
    result = run(tmp_path, "fedavg", args)
    trail = models(result)
    x = X0
    for r in range(1, 5):
        chosen = sample_sites(SITES, r, fraction=None, count=2, seed=5, minimum=2)
        ids = [int(s.split("-")[1]) for s in chosen]
        assert result.rounds[r]["num_updates"] == 2
        assert result.rounds[r]["num_samples"] == sum(10 * i for i in ids)
        x = weighted_answer(x, r, ids)
        np.testing.assert_allclose(trail[r]["w"], x, rtol=1e-12)


@pytest.mark.parametrize(
    ("workflow", "extra"),
    [
        ("fedavgm", {"server_lr": 0.7, "momentum": 0.5}),
        ("fedadam", {"server_lr": 0.05, "beta1": 0.8, "beta2": 0.9, "tau": 0.01}),
        ("fedyogi", {"server_lr": 0.05, "tau": 0.01}),
        ("fedadagrad", {"server_lr": 0.05, "tau": 0.01}),
    ],
)
def test_fedopt_steps(tmp_path: Path, workflow: str, extra: dict[str, float]) -> None:
    result = run(tmp_path, workflow, {"num_rounds": 3, **extra})
    trail = models(result)
    rule = {"fedavgm": "momentum", "fedadam": "adam", "fedyogi": "yogi"}.get(workflow, "adagrad")
    # Every site answers x + offset(i, r), so the round's mean is x + the weighted offsets.
    sites = list(range(1, N + 1))
    offsets = [weighted_answer(np.zeros(4), r, sites) for r in range(1, 4)]
    for r in range(1, 4):
        expected = reference(rule, X0, offsets[:r], **extra)
        np.testing.assert_allclose(trail[r]["w"], expected, rtol=1e-10)


@pytest.mark.parametrize("rule", ["median", "trimmed_mean", "krum", "multi_krum"])
def test_robust_rules_shrug_off_an_attacker(tmp_path: Path, rule: str) -> None:
    args = {"num_rounds": 2, "aggregator": rule, "trim_ratio": 0.2, "num_byzantine": 1}
    result = run(tmp_path, "fedavg", args, ["--attacker", "5"], n=5)
    trail = models(result)
    x = X0
    for r in range(1, 3):
        answers = [x + offset(i, r) for i in range(1, 5)] + [x + 1e6]
        stack = np.stack(answers)
        if rule == "median":
            x = np.median(stack, axis=0)
        elif rule == "trimmed_mean":  # floor(0.2 * 5) = 1 cut from each end
            x = np.sort(stack, axis=0)[1:4].mean(axis=0)
        else:
            scores = []
            for a in range(5):  # n - f - 2 = 2 nearest neighbours
                d = sorted(float(np.sum((stack[a] - stack[b]) ** 2)) for b in range(5) if b != a)
                scores.append(sum(d[:2]))
            keep = np.argsort(scores, kind="stable")[: 1 if rule == "krum" else 4]
            x = stack[keep].mean(axis=0)
        assert np.abs(x).max() < 100  # the attacker's 1e6 is gone
        np.testing.assert_allclose(trail[r]["w"], x, rtol=1e-9)


def test_fedprox_sends_mu_to_every_train_task(tmp_path: Path) -> None:
    result = run(tmp_path, "fedprox", {"num_rounds": 2, "mu": 0.25})
    # Train results carry the mu each site received, as round metrics of rounds 0 and 1.
    assert [r["metrics"]["mu"] for r in result.rounds[:2]] == [0.25, 0.25]
    np.testing.assert_allclose(
        models(result)[2]["w"],
        weighted_answer(weighted_answer(X0, 1, [1, 2, 3, 4]), 2, [1, 2, 3, 4]),
        rtol=1e-12,
    )


@pytest.mark.parametrize("sample", [None, 2])
def test_scaffold_matches_the_algorithm_in_numpy(tmp_path: Path, sample: int | None) -> None:
    args: dict[str, Any] = {"num_rounds": 3, "server_lr": 0.8, "min_clients": 2}
    if sample:
        args |= {"sample_count": sample, "sample_seed": 2}
    result = run(tmp_path, "scaffold", args, ["--mode", "scaffold"])
    trail = models(result)
    assert set(trail[0]) == {"w", "scaffold_c.w"} and not trail[0]["scaffold_c.w"].any()
    x, c = X0.copy(), np.zeros(4)
    ci = {i: np.zeros(4) for i in range(1, N + 1)}
    for r in range(1, 4):
        chosen = sample_sites(SITES, r, fraction=None, count=sample, seed=2, minimum=2)
        ids = [int(s.split("-")[1]) for s in chosen]
        ys, dcs = [], []
        for i in ids:
            y = x.copy()
            for _ in range(3):
                y = y - 0.1 * ((y - i * np.array([1.0, 2.0, 3.0, 4.0])) - ci[i] + c)
            new_ci = ci[i] - c + (x - y) / (3 * 0.1)
            ys.append(y)
            dcs.append(new_ci - ci[i])
            ci[i] = new_ci
        mean_y = np.average(ys, axis=0, weights=[10.0 * i for i in ids])
        x = x + 0.8 * (mean_y - x)
        c = c + (len(ids) / N) * np.mean(dcs, axis=0)  # |S| / N
        np.testing.assert_allclose(trail[r]["w"], x, rtol=1e-10)
        np.testing.assert_allclose(trail[r]["scaffold_c.w"], c, rtol=1e-10, atol=1e-12)


def test_krum_with_too_few_updates_fails_the_job_clearly(tmp_path: Path) -> None:
    job = toy_job(tmp_path / "job", "fedavg", {"num_rounds": 1, "aggregator": "krum"})
    result = simulate(job, 3, threads=2, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_EXCEPTION
    assert "round 1: aggregation failed" in result.reason
    assert "needs at least 4 updates, got 3" in result.reason


@pytest.mark.parametrize("order", ["fixed", "random"])
def test_cyclic_passes_the_model_site_to_site(tmp_path: Path, order: str) -> None:
    result = run(
        tmp_path, "cyclic", {"num_rounds": 3, "order": order, "seed": 3}, ["--mode", "cyclic"]
    )
    trail = models(result)
    x = X0.copy()
    rounds_orders = []
    for r in range(1, 4):
        if order == "fixed":
            visit = list(range(1, N + 1))
        else:
            perm = np.random.default_rng([3, r]).permutation(N)
            visit = [int(p) + 1 for p in perm]
        rounds_orders.append(visit)
        for i in visit:
            x = 0.5 * x + i
        np.testing.assert_allclose(trail[r]["w"], x, rtol=1e-12)
        assert result.rounds[r]["num_updates"] == N
    if order == "random":
        assert len({tuple(o) for o in rounds_orders}) > 1


def test_cross_site_matrix_is_in_the_result(tmp_path: Path) -> None:
    result = run(tmp_path, "cross_site_eval", {"num_rounds": 2})
    path = result.result_dir / "workspace" / "cross_site_eval.json"
    data = json.loads(path.read_text())
    assert data["models"] == ["global", *SITES] and data["sites"] == SITES
    assert data["failures"] == {}
    x1 = weighted_answer(X0, 1, [1, 2, 3, 4])
    final = weighted_answer(x1, 2, [1, 2, 3, 4])
    for evaluator in range(1, N + 1):
        row = data["matrix"][f"site-{evaluator}"]
        assert row["global"]["score"] == pytest.approx(final.sum() + 1000 * evaluator)
        for owner in range(1, N + 1):
            local = x1 + offset(owner, 2)  # the owner's final-round answer
            expected = local.sum() + 1000 * evaluator
            assert row[f"site-{owner}"]["score"] == pytest.approx(expected, rel=1e-12)
