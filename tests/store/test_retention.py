"""Retention of global models (``keep_rounds``, ``best_metric``) on a real store and real
artifact files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cohort.errors import ErrorCode, NotFound
from cohort.server.config import ServerConfig
from cohort.server.services.retention import Retention, best_round, prune_models
from cohort.server.state import ServerState
from cohort.store import FileArtifactStore, open_store


@pytest.fixture
def state(tmp_path: Path) -> Iterator[ServerState]:
    config = ServerConfig(kit=tmp_path / "kit", workspace=tmp_path / "ws")
    store = open_store(None, config.workspace)
    store.create_job(
        job_id="job-1",
        name="j",
        study="default",
        submitter="a@example.org",
        meta={"name": "j", "deploy_map": {"app": ["@ALL"]}},
        job_sha256="a" * 64,
        submit_time=1.0,
    )
    arts = FileArtifactStore(config.workspace / "artifacts")
    for rnd, accuracy in enumerate([None, 0.7, 0.9, 0.8, 0.85, 0.6]):
        key = f"jobs/job-1/models/round-{rnd}.safetensors"
        sha = arts.write_bytes(key, f"model {rnd}".encode())
        store.add_round(
            job_id="job-1",
            round=rnd,
            model_path=key,
            model_sha256=sha,
            num_updates=2,
            num_samples=10,
            now=float(rnd),
        )
        if accuracy is not None:
            store.set_round_metrics("job-1", rnd, {"accuracy": accuracy, "loss": 1 - accuracy})
    yield ServerState(config=config, store=store, artifacts=arts)
    store.close()


def _on_disk(state: ServerState) -> list[int]:
    rounds = state.store.list_rounds("job-1")
    return [r.round for r in rounds if state.artifacts.exists(r.model_path)]


def test_default_keeps_every_round(state: ServerState) -> None:
    assert prune_models(state, "job-1", Retention()) == []
    assert _on_disk(state) == [0, 1, 2, 3, 4, 5]


def test_keep_last_n_keeps_the_newest_and_the_best(state: ServerState) -> None:
    assert prune_models(state, "job-1", Retention(keep_rounds=2)) == [0, 1, 3]
    assert _on_disk(state) == [2, 4, 5]  # round 2 has the highest accuracy
    # The model trail keeps every round's record; only files go.
    assert [r.round for r in state.store.list_rounds("job-1")] == [0, 1, 2, 3, 4, 5]
    assert prune_models(state, "job-1", Retention(keep_rounds=2)) == []  # nothing left to do


def test_best_metric_names_the_metric_and_none_keeps_no_best(state: ServerState) -> None:
    rounds = state.store.list_rounds("job-1")
    assert best_round(rounds, "accuracy") == 2
    assert best_round(rounds, "loss") == 5
    assert best_round(rounds, "f1") is None
    prune_models(state, "job-1", Retention(keep_rounds=1, best_metric=None))
    assert _on_disk(state) == [5]


def test_asking_for_a_pruned_round_says_it_was_pruned(state: ServerState) -> None:
    from cohort.server.services.fleet import FleetService
    from cohort.server.services.models import ModelService

    prune_models(state, "job-1", Retention(keep_rounds=1))
    models = ModelService(state, FleetService(state))
    job = state.store.get_job("job-1")
    assert models.pick(job, None).round == 5
    assert models.pick(job, 2).round == 2  # the best
    with pytest.raises(NotFound) as info:
        models.pick(job, 3)
    assert info.value.code == ErrorCode.NOT_FOUND
    assert "pruned" in info.value.message and "keep_rounds" in info.value.message
    assert info.value.details == {"job_id": "job-1", "round": 3}
