"""The algorithm recipes: each exports a job folder the server accepts, with its workflow and
arguments; bad arguments fail where the recipe is written; one runs in the simulator."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cohort.jobfolder import validate_job_zip, zip_job_folder
from cohort.recipes import (
    RECIPES,
    CrossSiteEvalRecipe,
    CyclicRecipe,
    FedAvgMRecipe,
    FedAvgRecipe,
    FedOptRecipe,
    FedProxRecipe,
    ScaffoldRecipe,
)
from cohort.simulate import simulate
from cohort.states import JobStatus
from cohort.workflows import WORKFLOWS
from tests.algorithms.realdata import SCRIPT

CASES: list[tuple[type[FedAvgRecipe], dict[str, Any], str, dict[str, Any]]] = [
    (FedAvgRecipe, {"aggregator": "krum", "num_byzantine": 2}, "fedavg", {"num_byzantine": 2}),
    (FedAvgRecipe, {"sample_fraction": 0.3, "sample_seed": 4}, "fedavg", {"sample_seed": 4}),
    (FedAvgMRecipe, {"momentum": 0.7}, "fedavgm", {"momentum": 0.7, "server_lr": 1.0}),
    (FedOptRecipe, {"optimizer": "yogi"}, "fedopt", {"optimizer": "yogi", "tau": 1e-3}),
    (FedProxRecipe, {"mu": 0.5}, "fedprox", {"mu": 0.5}),
    (ScaffoldRecipe, {"server_lr": 0.5}, "scaffold", {"server_lr": 0.5}),
    (CyclicRecipe, {"order": "random", "seed": 9}, "cyclic", {"order": "random", "seed": 9}),
    (CrossSiteEvalRecipe, {}, "cross_site_eval", {"evaluate_site_models": True}),
]


@pytest.mark.parametrize(("cls", "kwargs", "workflow", "expected"), CASES)
def test_recipe_exports_its_workflow(
    tmp_path: Path,
    cls: type[FedAvgRecipe],
    kwargs: dict[str, Any],
    workflow: str,
    expected: dict[str, Any],
) -> None:
    recipe = cls(name="r", train_script=SCRIPT, num_rounds=3, **kwargs)
    job = recipe.export(tmp_path / "job")
    server = json.loads((job / "app" / "config" / "config_fed_server.json").read_text())
    assert server["workflow"] == workflow and server["args"]["num_rounds"] == 3
    assert expected.items() <= server["args"].items()
    validate_job_zip(zip_job_folder(job))  # the server (and the simulator) would take it


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (FedProxRecipe, {"mu": -1.0}),
        (FedAvgRecipe, {"aggregator": "mode"}),
        (FedAvgRecipe, {"sample_fraction": 0.5, "sample_count": 2}),
        (FedAvgRecipe, {"learning_rate": 0.1}),  # a typo is not silently ignored
        (ScaffoldRecipe, {"aggregator": "median"}),
        (FedOptRecipe, {"optimizer": "lion"}),
        (CyclicRecipe, {"sample_count": 2}),
        (CyclicRecipe, {"aggregator": "median"}),
    ],
)
def test_bad_arguments_fail_in_the_recipe(cls: type[FedAvgRecipe], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        cls(name="r", train_script=SCRIPT, **kwargs)


def test_registry_lists_importable_recipes_of_known_workflows() -> None:
    for info in RECIPES.values():
        module, _, name = info.class_path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert cls.workflow == info.workflow and info.workflow in WORKFLOWS


def test_exported_fedprox_recipe_trains_in_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    recipe = FedProxRecipe(
        name="fedprox-wine",
        train_script=SCRIPT,
        num_rounds=6,
        mu=0.1,
        train_args=["--data", "wine"],
        task_timeout=120,
    )
    job = recipe.export(tmp_path / "job")
    result = simulate(job, 4, threads=2, workspace=tmp_path / "ws", progress=False)
    assert result.status == JobStatus.FINISHED_OK, result.reason
    assert result.final_metrics["accuracy"] >= 0.9  # measured 0.978
