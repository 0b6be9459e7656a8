"""The trust score (from the store's history: accepted and refused updates, failures,
timeouts), and client selection by trust threshold and resource requirements."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from cohort.schemas.fleet import SiteCapacity
from cohort.schemas.policy import JobPolicies, ResourceRequirements
from cohort.schemas.rest import CreateExperiment
from cohort.server.config import ServerConfig
from cohort.server.selection import GIB, capacity_shortfalls, select_sites
from cohort.server.services.clients import ClientService
from cohort.server.services.experiments import ExperimentService
from cohort.server.services.work import WorkService
from cohort.server.state import ServerState
from cohort.states import TaskStatus
from cohort.store import FileArtifactStore, SQLStore


@pytest.fixture
def state(tmp_path: Path) -> ServerState:
    store = SQLStore(f"sqlite:///{tmp_path / 'state.db'}")
    config = ServerConfig(kit=tmp_path / "kit", workspace=tmp_path)
    return ServerState(config=config, store=store, artifacts=FileArtifactStore(tmp_path / "a"))


def _job(state: ServerState, job_id: str, outcomes: dict[str, list[str]]) -> None:
    """A job whose sites each ended one train task per entry: done, rejected, failed, timeout."""
    store = state.store
    store.create_job(job_id=job_id, name=job_id, study="default", submitter="a", meta={},
                     job_sha256="0", submit_time=1.0)  # fmt: skip
    work = WorkService(state)
    for site, ends in outcomes.items():
        for rnd, end in enumerate(ends, start=1):
            [task] = store.create_tasks(job_id=job_id, round=rnd, name="train", sites=[site],
                                        model_path="m", deadline=1e12, now=1.0)  # fmt: skip
            if end in ("done", "rejected"):
                store.add_update(task_id=task.task_id, path="u", sha256=f"{rnd}", num_samples=1,
                                 metrics={}, now=2.0)  # fmt: skip
                store.set_task_status(task.task_id, TaskStatus.DONE)
                if end == "rejected":
                    work.reject_update(job_id, task.task_id, "non-finite values")
                    work.reject_update(job_id, task.task_id, "again")  # a retry: counted once
            else:
                status = TaskStatus.FAILED if end == "failed" else TaskStatus.TIMEOUT
                store.set_task_status(task.task_id, status)


def test_trust_is_the_share_of_tasks_whose_result_was_used(state: ServerState) -> None:
    _job(state, "j1", {"site-1": ["done"] * 4, "site-2": ["done", "rejected", "rejected", "done"]})
    _job(state, "j2", {"site-1": ["done", "timeout"], "site-2": ["failed", "done"]})
    histories = ClientService(state).histories()
    assert histories["site-1"].trust_score == round(5 / 6, 4)
    assert histories["site-2"].trust_score == round(3 / 6, 4)
    assert histories["site-2"].rejected == 2
    # Refused updates are no contribution: only site-2's two accepted j1 rounds count.
    assert len(histories["site-2"].shares) == 3
    [record] = [j for j in state.store.list_jobs() if j.job_id == "j1"]
    rejected = [e for e in record.site_errors if e["kind"] == "rejected"]
    assert [(e["site"], e["round"], e["reason"]) for e in rejected] == [
        ("site-2", 2, "non-finite values"), ("site-2", 3, "non-finite values"),
    ]  # fmt: skip


def test_trust_survives_a_new_server_on_the_same_store(state: ServerState, tmp_path: Path) -> None:
    _job(state, "j1", {"site-2": ["rejected", "done"]})
    again = ServerState(
        config=state.config,
        store=SQLStore(f"sqlite:///{tmp_path / 'state.db'}"),
        artifacts=state.artifacts,
    )
    assert ClientService(again).histories()["site-2"].trust_score == 0.5


def test_selection_by_trust_threshold(state: ServerState) -> None:
    _job(state, "j1", {"site-1": ["done", "done"], "site-2": ["rejected", "done"]})
    found = select_sites(state, ["site-1", "site-2", "site-9"], JobPolicies(trust_threshold=0.7))
    assert found.selected == ["site-1", "site-9"]  # no history yet: trusted
    assert found.excluded == ["site-2"]
    assert found.reasons == {"site-2": "Trust score below threshold (0.50 < 0.70)"}
    result = found.results["site-2"]
    assert result["compliance"] is False and result["policies_applied"] == ["trust_threshold"]
    assert result["history"] == {"accepted": 1, "rejected": 1, "failed_or_timed_out": 0}


def test_selection_by_resources(state: ServerState) -> None:
    state.site_capacity["big"] = SiteCapacity(cpu_count=16, memory_total=64 * GIB, gpu_count=2)
    state.site_capacity["small"] = SiteCapacity(cpu_count=2, memory_total=4 * GIB)
    need = ResourceRequirements(min_cpus=4, min_memory_gb=8, min_gpus=1)
    found = select_sites(state, ["big", "small", "silent"], JobPolicies(resource_requirements=need))
    assert found.selected == ["big"]
    assert found.reasons == {
        "small": "CPUs below requirement (2 < 4); Memory below requirement (4.0 GiB < 8 GiB); "
        "GPUs below requirement (0 < 1)",
        "silent": "Reported no resources at its heartbeat",
    }
    assert found.results["big"]["policies_applied"] == ["trust_threshold", "resource_requirements"]


def test_no_requirement_excludes_nobody() -> None:
    assert capacity_shortfalls(ResourceRequirements(), None) == []
    need = ResourceRequirements(min_memory_gb=1)
    assert capacity_shortfalls(need, SiteCapacity(cpu_count=1, memory_total=GIB)) == []


def test_a_rest_experiments_policy_config_becomes_its_jobs_policies(state: ServerState) -> None:
    req = CreateExperiment.model_validate(
        {
            "name": "guarded",
            "policy_config": {
                "min_clients": 2,
                "trust_threshold": 0.7,
                "update_validation": {"max_norm": 5.0},
                "resource_requirements": {"min_memory_gb": 2},
            },
        }
    )
    archive = ExperimentService(state, jobs=None).build_job(req)  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        name = next(n for n in zf.namelist() if n.endswith("meta.json"))
        meta = json.loads(zf.read(name))
    assert JobPolicies.model_validate(meta["policies"]) == JobPolicies(
        trust_threshold=0.7,
        update_validation={"max_norm": 5.0},  # type: ignore[arg-type]
        resource_requirements=ResourceRequirements(min_memory_gb=2),
    )
    with pytest.raises(ValueError, match="max_norm"):
        CreateExperiment.model_validate(
            {"name": "x", "policy_config": {"update_validation": {"max_norm": 0}}}
        )
