"""The policy engine on a real federation: a site that sends poisoned updates (NaN, or its
model scaled x1000) is refused before aggregation, the refusal is recorded with site, round
and reason, its trust score falls (and stays fallen across a server restart), the trust
threshold keeps it out of the next job, and the job still converges on breast cancer.
Hostile model updates sent straight to the REST upload endpoint are refused with their codes,
the server stays up, and nothing half-written is left in the artifact store.

Every process is real (server with REST listener, three site agents, job processes, scripts
training softmax regression on scikit-learn's bundled breast-cancer data) over mutual TLS on
loopback; the federation is stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cohort.provision.processes import wait_until_connected
from cohort.recipes import FedAvgRecipe
from cohort.recipes.scripts import TABULAR_SOFTMAX
from cohort.schemas.records import JobRecord
from cohort.states import JobStatus
from cohort.wire.payload import PayloadHeader, encode_payload
from cohort.wire.tensors import encode_tensors
from tests.integration.federation import make_job, toy_script
from tests.rest.conftest import RestFederation, error_code, start_rest_federation

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("poisoned_updates")]

SCRIPT = Path(__file__).with_name("poisoned_softmax.py")
ROUNDS = 5
#: Clean changes to the model are at most ~0.4 per round here; x1000 moves it by 300 or more.
MAX_NORM = 5.0
POISONER = "site-3"


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestFederation]:
    """Three sites and a server with the REST listener, stopped at the end of the module."""
    tmp = tmp_path_factory.mktemp("poison")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_HOME", str(tmp / "home"))
        # A generous start-up: the module's jobs are worth waiting for on a loaded machine.
        started = start_rest_federation(tmp, 3, [], start_timeout=120.0)
        try:
            yield started
        finally:
            started.fed.stop()


def _run(rest: RestFederation, tmp: Path, name: str, poison: str, **policies: Any) -> JobRecord:
    recipe = FedAvgRecipe(
        name=name,
        train_script=SCRIPT,
        extra_files=[TABULAR_SOFTMAX],
        train_args=["--dataset", "breast_cancer", "--shares", "3", "--epochs", "3"],
        num_rounds=ROUNDS,
        min_clients=2,
        task_timeout=120.0,
        wait_after_min=30.0,
        env={"POISON": poison, "POISON_SITE": POISONER},
        policies={"update_validation": {"max_norm": MAX_NORM}, **policies},
    )
    job_id = rest.fed.submit(recipe.export(tmp / name))
    record = rest.fed.wait(job_id, timeout=300)
    assert record.status == JobStatus.FINISHED_OK, record
    return record


def _final_accuracy(rest: RestFederation, job_id: str) -> float:
    rounds = rest.fed.api.rounds(job_id)
    assert [r.round for r in rounds] == list(range(ROUNDS + 1))
    return rounds[-1].metrics["accuracy"]


def _trust(rest: RestFederation, site: str) -> float:
    return float(rest.client().get_client(site)["trust_score"])


def test_poisoned_updates_are_refused_recorded_and_the_job_converges(
    rest: RestFederation, tmp_path: Path
) -> None:
    clean = _run(rest, tmp_path, "clean", "")
    assert not clean.site_errors
    assert all(r.num_updates == 3 for r in rest.fed.api.rounds(clean.job_id)[1:])
    clean_accuracy = _final_accuracy(rest, clean.job_id)
    assert clean_accuracy > 0.9
    assert _trust(rest, POISONER) == 1.0

    for poison, why in [("nan", "non-finite values"), ("scale", "exceeds max_norm")]:
        record = _run(rest, tmp_path, f"poisoned-{poison}", poison)
        rejected = [e for e in record.site_errors if e["kind"] == "rejected"]
        # Every round, the poisoner's update and only that one was refused, and why is kept.
        assert [(e["site"], e["round"]) for e in rejected] == [
            (POISONER, rnd) for rnd in range(1, ROUNDS + 1)
        ], record.site_errors
        assert all(why in e["reason"] and e["code"] == "MODEL_VALIDATION_FAILED" for e in rejected)
        status = rest.client().get_training_status()  # the newest experiment: this job
        assert status["experiment_id"] == record.job_id
        assert [(r["client_id"], r["round"]) for r in status["rejected_updates"]] == [
            (POISONER, rnd) for rnd in range(1, ROUNDS + 1)
        ]
        assert all(r.num_updates == 2 for r in rest.fed.api.rounds(record.job_id)[1:])
        # Still converges: the two honest sites' data are two thirds of the training rows.
        assert abs(_final_accuracy(rest, record.job_id) - clean_accuracy) <= 0.03

    # 2 poisoned jobs x 5 train tasks refused, out of 3 jobs x (1 or 0 initial + 5 + 1) tasks.
    fallen = _trust(rest, POISONER)
    assert fallen < 0.6 and _trust(rest, "site-1") == 1.0

    # The score is the store's: a restarted server gives the same one.
    rest.fed.kill("server")
    rest.fed.start_server()
    wait_until_connected(rest.fed.layout, rest.fed.sites, 120)
    assert _trust(rest, POISONER) == fallen

    # A job with a trust threshold leaves the poisoner out, and says why.
    guarded = _run(rest, tmp_path, "guarded", "nan", trust_threshold=0.6)
    assert guarded.sites == ["site-1", "site-2"] and not guarded.site_errors
    selection = rest.client().select_clients(round=1, policy_check=True)
    assert selection["excluded_clients"] == [POISONER]
    assert selection["exclusion_reasons"][POISONER].startswith("Trust score below threshold")
    assert selection["policy_results"][POISONER]["history"]["rejected"] == 2 * ROUNDS


# --- hostile uploads -----------------------------------------------------------------------


def _payload(params: dict[str, np.ndarray]) -> bytes:
    return encode_payload(params, PayloadHeader(kind="update", num_samples=1))


def _hostile() -> dict[str, tuple[bytes, str]]:
    good = {"w": np.zeros(4, np.float32)}
    whole = _payload(good)
    (n,) = struct.unpack("<Q", whole[:8])
    header = json.loads(whole[8 : 8 + n])
    header["w"]["data_offsets"] = [0, 4000]  # promises data the body does not have
    lying = json.dumps(header).encode()
    return {
        "wrong-name": (_payload({"v": np.zeros(4, np.float32)}), "MODEL_VALIDATION_FAILED"),
        "wrong-shape": (_payload({"w": np.zeros(5, np.float32)}), "MODEL_VALIDATION_FAILED"),
        "wrong-dtype": (_payload({"w": np.zeros(4, np.float64)}), "MODEL_VALIDATION_FAILED"),
        "truncated": (whole[: len(whole) - 3], "PAYLOAD_INVALID"),
        "lying-offsets": (
            struct.pack("<Q", len(lying)) + lying + whole[8 + n :],
            "PAYLOAD_INVALID",
        ),
        "lying-length": (struct.pack("<Q", 10**12) + whole[8:], "PAYLOAD_INVALID"),
        "no-cohort-header": (encode_tensors(good), "PAYLOAD_INVALID"),
        "empty": (b"", "PAYLOAD_INVALID"),
    }


def _updates_folder(rest: RestFederation, job_id: str) -> list[str]:
    folder = rest.fed.server_ws() / "artifacts" / "jobs" / job_id / "updates"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _site_1_round_1(rest: RestFederation, job_id: str) -> list[str]:
    """Stored round-1 updates of site-1 (whose uploads below are refused)."""
    return [p for p in _updates_folder(rest, job_id) if p.startswith("1-train-site-1-")]


def test_hostile_updates_at_the_upload_endpoint(rest: RestFederation, tmp_path: Path) -> None:
    # site-1's own script stalls, so its round-1 task stays open for the uploads below.
    stall = '    if site == "site-1":\n        time.sleep(60)'
    job_id = rest.fed.submit(make_job(tmp_path / "hostile", toy_script(stall), num_rounds=1))
    rest.fed.wait_for(job_id, lambda r: r.current_round == 1, timeout=120)
    key = rest.fed.api.create_token("client", "hostile").token
    for name, (body, code) in _hostile().items():
        reply = rest.raw("POST", "/model/update/site-1", key=key, files={"model_file": ("u", body)})
        assert reply.status_code in (400, 422) and error_code(reply) == code, (name, reply.text)
        assert not _site_1_round_1(rest, job_id), name
    assert rest.raw("GET", "/health", key=None).status_code == 200  # still up

    # Well-formed but poisoned: taken for the round, then refused before aggregation.
    nan = _payload({"w": np.full(4, np.nan, np.float32)})
    reply = rest.raw("POST", "/model/update/site-1", key=key, files={"model_file": ("u", nan)})
    assert reply.status_code == 200 and reply.json()["validation_status"] == "pending"
    record = rest.fed.wait(job_id, timeout=120)
    assert record.status == JobStatus.FINISHED_OK, record
    rejected = [e for e in record.site_errors if e["kind"] == "rejected"]
    assert [(e["site"], e["round"]) for e in rejected] == [("site-1", 1)]
    assert "non-finite" in rejected[0]["reason"]
    assert rest.fed.api.rounds(job_id)[1].num_updates == 2
    # Only whole, named updates remain: no temporary file of a refused upload (checked once
    # the job is over: while it runs, the other sites' uploads pass through such files).
    assert not [p for p in _updates_folder(rest, job_id) if p.startswith("incoming")]
    assert len(_site_1_round_1(rest, job_id)) == 1  # the NaN upload, kept but not aggregated


def test_resource_requirements_come_from_the_sites_heartbeats(
    rest: RestFederation, tmp_path: Path
) -> None:
    # Every site agent here runs on this machine and reports its CPUs: ask for one more.
    cpus = os.cpu_count() or 1
    folder = make_job(tmp_path / "too-big", toy_script(), num_rounds=1, scheduling_timeout=3.0)
    meta = json.loads((folder / "meta.json").read_text())
    meta["policies"] = {"resource_requirements": {"min_cpus": cpus + 1}}
    (folder / "meta.json").write_text(json.dumps(meta))
    record = rest.fed.wait(rest.fed.submit(folder), timeout=60)
    assert record.status == JobStatus.FAILED and not record.sites
    for site in rest.fed.sites:
        assert f"{site} excluded: CPUs below requirement ({cpus} < {cpus + 1})" in (
            record.status_reason
        )
    selection = rest.client().select_clients(policy_check=True)  # that job's policies
    assert selection["selected_clients"] == [] and selection["excluded_clients"] == rest.fed.sites
    assert selection["policy_results"]["site-1"]["policies_applied"] == [
        "trust_threshold", "resource_requirements",
    ]  # fmt: skip
    # Met requirements select every site, and the job runs.
    meta["policies"] = {"resource_requirements": {"min_cpus": cpus, "min_memory_gb": 0.5}}
    (folder / "meta.json").write_text(json.dumps(meta))
    record = rest.fed.wait(rest.fed.submit(folder), timeout=120)
    assert record.status == JobStatus.FINISHED_OK and record.sites == rest.fed.sites
