"""REST API v1 against a real server and sites: every endpoint, real jobs, real WebSocket.

One federation serves the whole module (tests run in file order and build on each other's
jobs where they say so).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np
import pytest
from safetensors.numpy import load, save

from cohort.admin.api import AdminAPI
from cohort.errors import CohortError, ErrorCode
from cohort.provision.ca import CertificateAuthority
from cohort.provision.kit import KitConfig, create_kit, load_kit
from cohort.states import JobStatus
from tests.integration.federation import ROOT, make_job, toy_script
from tests.rest.conftest import RestFederation, error_code

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("rest")]

EXPERIMENT = {
    "name": "wine softmax",
    "description": "3 sites, IID shares of the wine data",
    "dataset_config": {"name": "wine", "split_strategy": "iid", "clients_count": 3},
    "model_config": {"architecture": "softmax-regression"},
    "training_config": {"rounds": 3, "local_epochs": 5, "learning_rate": 0.5},
    "policy_config": {"min_clients": 2, "trust_threshold": 0.5},
}


def test_auth_is_refused_without_a_valid_key(rest: RestFederation) -> None:
    for key in (None, "not-a-key", "cohort_abc_def", rest.admin_key + "x"):
        response = rest.raw("GET", "/status", key=key)
        assert response.status_code == 401, key
        assert error_code(response) == "UNAUTHORIZED"
    assert rest.raw("GET", "/health", key=None).json()["status"] == "healthy"  # open probe
    # A training client's key reads but may not start training or create experiments.
    assert rest.raw("GET", "/status", key="client").status_code == 200
    for path, body in (("/training/start", {}), ("/experiments", EXPERIMENT)):
        response = rest.raw("POST", path, key="client", json=body)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN", path
    # Keys with an admin role are judged by the same policy as certificates: a member views
    # only, so it may not create experiments, and the refusal names the policy's rule.
    member = rest.fed.api.create_token("member", "viewer").token
    response = rest.raw("POST", "/experiments", key=member, json=EXPERIMENT)
    assert response.status_code == 403 and error_code(response) == "FORBIDDEN"
    assert "member may not job.submit" in response.json()["error"]["message"]
    # Only a project_admin may mint keys (policy action token.manage): a lead's kit may not
    # make itself a project_admin key.
    layout = rest.fed.layout
    lead = create_kit(
        CertificateAuthority.load(layout.ca_dir),
        layout.prod_dir,
        KitConfig(
            kind="admin", name="lead@cohort.local", org="cohort", role="lead",
            project=layout.project, server_host=layout.host, server_port=layout.port,
        ),
    )  # fmt: skip
    with AdminAPI(load_kit(lead.dir)) as as_lead, pytest.raises(CohortError) as refused:
        as_lead.create_token("project_admin", "escalate")
    assert refused.value.code == ErrorCode.NOT_AUTHORIZED
    assert "lead may not token.manage" in refused.value.message
    # The REST listener asks for no client certificate: certificate-only routes see nobody.
    with httpx.Client(verify=ssl.create_default_context(cafile=str(rest.ca))) as http:
        response = http.get(f"{rest.url}/admin/v1/jobs")
    assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"


def test_revoked_and_expired_keys_stop_working(rest: RestFederation) -> None:
    reply = rest.fed.api.create_token("member", "short", expires_in=2.0)
    assert rest.raw("GET", "/status", key=reply.token).status_code == 200
    revoked = rest.fed.api.create_token("member", "to revoke")
    rest.fed.api.revoke_token(revoked.record.token_id)
    response = rest.raw("GET", "/status", key=revoked.token)
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    time.sleep(2.5)
    response = rest.raw("GET", "/status", key=reply.token)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    listed = {r.token_id: r for r in rest.fed.api.list_tokens()}
    assert listed[revoked.record.token_id].revoked is not None
    assert "secret_sha256" not in json.dumps([r.model_dump() for r in listed.values()])


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/clients/register", {"json": {"client_id": "bad id/../x"}}),
        ("POST", "/clients/register", {"json": {"client_id": "c1", "surprise": 1}}),
        (
            "POST",
            "/clients/register",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        ),
        ("GET", "/clients", {"params": {"status": "sleeping"}}),
        ("GET", "/clients", {"params": {"round": "-1"}}),
        ("POST", "/experiments", {"json": {**EXPERIMENT, "dataset_config": {"name": "CIFAR-10"}}}),
        ("POST", "/experiments", {"json": {**EXPERIMENT, "recipe": "no-such-recipe"}}),
        ("POST", "/experiments", {"json": {"description": "no name"}}),
        ("POST", "/experiments", {"json": {**EXPERIMENT, "training_config": {"rounds": 0}}}),
        ("GET", "/experiments", {"params": {"limit": "0"}}),
        ("GET", "/experiments", {"params": {"status": "paused"}}),
        ("POST", "/training/start", {"json": {"aggregation_config": {"strategy": "Krum"}}}),
        ("POST", "/training/start", {"json": {"experiment_config": {"client_fraction": 2}}}),
        # Found by the fuzz run: more sites than any job may ask for was a 500.
        ("POST", "/training/start", {"json": {"aggregation_config": {"min_updates": 100_001}}}),
        ("POST", "/training/stop", {"json": {"experiment_id": "../etc"}}),
        ("GET", "/metrics/training", {"params": {"from_round": "3", "to_round": "1"}}),
        ("POST", "/model/update/site-1", {"data": {"metrics": "{}"}}),  # no model_file
    ],
)
def test_bad_input_is_400_invalid_request(
    rest: RestFederation, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = rest.raw(method, path, **kwargs)
    assert response.status_code == 400, response.text
    assert error_code(response) == "INVALID_REQUEST"


def test_unknown_ids_are_404(rest: RestFederation) -> None:
    cases = {
        "/clients/client-999": "CLIENT_NOT_REGISTERED",
        "/metrics/clients/client-999": "CLIENT_NOT_REGISTERED",
        "/model/download/model_nope_round_1": "NOT_FOUND",
        "/model/download/garbage": "NOT_FOUND",
        "/model/global?experiment_id=nope": "NOT_FOUND",
        "/metrics/training?experiment_id=nope": "NOT_FOUND",
        "/no/such/route": "NOT_FOUND",
    }
    for path, code in cases.items():
        response = rest.raw("GET", path)
        assert response.status_code == 404, path
        assert error_code(response) == code, path
    response = rest.raw("POST", "/training/stop", json={"experiment_id": "nope"})
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_experiment_over_rest_end_to_end(rest: RestFederation) -> None:
    """Create and start an experiment, watch its events, then read every endpoint about it.
    One test, so that no test depends on another's order."""
    exp_id = run_experiment(rest)
    check_endpoints_after(rest, exp_id)
    check_validation(rest)


def run_experiment(rest: RestFederation) -> str:
    """Create, start and watch the wine experiment; return its id."""
    client = rest.client()
    client.register_client("client-001", {"batch_size": 32}, {"memory": "8GB"}, {"region": "eu"})
    created = client.create_experiment(EXPERIMENT)
    exp_id = created["experiment_id"]
    assert created["status"] == "created" and created["resource_requirements"]["min_clients"] == 2
    listed = client.list_experiments(status="created")["experiments"]
    assert [e["experiment_id"] for e in listed] == [exp_id]
    assert client.get_client("client-001")["status"] == "registered"

    with client.connect_websocket(timeout=180) as events:
        started = client.start_training(
            {
                "experiment_config": {"experiment_id": exp_id},
                "aggregation_config": {"strategy": "FedAvg"},
            }
        )
        assert started["experiment_id"] == exp_id and started["total_rounds"] == 3
        assert started["selected_clients"] == ["site-1", "site-2", "site-3"]
        # While it runs: a second start, and an upload from a client without a task, conflict.
        with pytest.raises(CohortError) as info:
            client.start_training({"experiment_config": {"rounds": 1}})
        assert info.value.code == ErrorCode.TRAINING_ALREADY_RUNNING
        with pytest.raises(CohortError) as info:
            client.upload_model_update("client-001", {"w": np.zeros(3)}, {"data_samples": 1})
        assert info.value.code == ErrorCode.ROUND_NOT_ACTIVE
        # The same job, seen by the admin API (what `cohort job list` shows).
        assert exp_id in [j.job_id for j in rest.fed.api.list_jobs()]
        seen = []
        for event in events:
            assert event["experiment_id"] == exp_id
            seen.append(event)
            if event["type"] == "training_progress" and event["status"] == "FINISHED_OK":
                break
    check_event_order(seen, rounds=3, sites=["site-1", "site-2", "site-3"])
    record = rest.fed.api.get_job(exp_id)
    assert record.status == JobStatus.FINISHED_OK and record.name == "wine softmax"
    return exp_id


def check_event_order(seen: list[dict[str, Any]], rounds: int, sites: list[str]) -> None:
    """Each round: training_progress, then every site's client_update, then round_completed;
    the last event is training_progress with progress 1.0."""
    for event in seen:
        assert event["timestamp"].endswith("Z")
        assert (
            set(event)
            >= {
                "training_progress": {"round", "progress", "metrics"},
                "client_update": {"client_id", "status", "round", "metrics"},
                "round_completed": {
                    "round",
                    "global_metrics",
                    "participating_clients",
                    "round_duration",
                },
            }[event["type"]]
        )
    for rnd in range(1, rounds + 1):
        start = next(
            i for i, e in enumerate(seen) if e["type"] == "training_progress" and e["round"] == rnd
        )
        done = next(
            i for i, e in enumerate(seen) if e["type"] == "round_completed" and e["round"] == rnd
        )
        updates = [
            i
            for i, e in enumerate(seen)
            if e["type"] == "client_update"
            and e["round"] == rnd
            and e["status"] == "training_completed"
        ]
        assert sorted(seen[i]["client_id"] for i in updates) == sites
        assert start < min(updates) and max(updates) < done, (rnd, seen)
        assert seen[done]["participating_clients"] == len(sites)
        assert "accuracy" in seen[done]["global_metrics"] and seen[done]["round_duration"] > 0
    assert seen[-1]["progress"] == 1.0


def check_endpoints_after(rest: RestFederation, exp_id: str) -> None:
    """Every read endpoint about the finished experiment (the newest job now)."""
    client = rest.client(rest.fed.api.create_token("member", "reader").token)  # a fresh window
    found = client.list_experiments(status="completed")["experiments"]
    exp = next(e for e in found if e["experiment_id"] == exp_id)
    assert exp["name"] == "wine softmax" and exp["progress"] == 1.0

    status = client.get_server_status()
    assert status["experiment_id"] == exp_id and status["status"] == "idle"
    assert status["model_config"]["dataset"] == "wine"
    assert status["active_clients"] == 3 and status["registered_clients"] == 4  # + client-001
    training = client.get_training_status()
    assert training["status"] == "completed" and training["progress"] == 1.0
    assert training["current_round"] == training["total_rounds"] == 3
    assert training["round_metrics"]["participating_clients"] == 3

    model = client.get_global_model()
    assert model["round"] == 3 and model["parameters_count"] == 13 * 3 + 3  # wine: 13 x 3 classes
    assert model["accuracy"] is not None and model["accuracy"] >= 0.8
    assert client.get_global_model(round=1)["round"] == 1
    with pytest.raises(CohortError) as info:
        client.get_global_model(format="onnx")
    assert info.value.code == ErrorCode.INVALID_REQUEST
    data = client.download_model(model["model_id"])
    assert hashlib.sha256(data).hexdigest() == model["sha256"]
    params = load(data)
    assert params["w"].shape == (13, 3)

    metrics = client.get_training_metrics(experiment_id=exp_id)
    assert [r["round"] for r in metrics["rounds"]] == [1, 2, 3]
    assert set(metrics["rounds"][0]["client_metrics"]) == {"site-1", "site-2", "site-3"}
    assert metrics["summary"]["best_accuracy"] >= 0.8
    assert [
        r["round"] for r in client.get_training_metrics(from_round=2, to_round=2)["rounds"]
    ] == [2]
    only = client.get_training_metrics(client_id="site-2")["rounds"][0]["client_metrics"]
    assert set(only) == {"site-2"}

    detail = client.get_client("site-1")  # scores span every job this module ran
    assert detail["status"] == "active" and 0.5 < detail["trust_score"] <= 1.0
    assert 0 < detail["contribution_score"] < 1
    assert detail["performance_metrics"]["data_size"] > 0
    perf = client.get_client_metrics("site-1")
    mine = [h["round"] for h in perf["performance_history"] if h["experiment_id"] == exp_id]
    assert mine == [1, 2, 3] and perf["statistics"]["total_rounds_participated"] >= 3

    everyone = client.list_clients()
    assert everyone["total_count"] == 4 and everyone["active_count"] == 3
    assert [c["client_id"] for c in client.list_clients(status="registered")["clients"]] == [
        "client-001"
    ]
    assert len(client.list_clients(round=2)["clients"]) == 3
    selection = client.select_clients(round=4)
    chosen = selection["selected_clients"] + selection["excluded_clients"]
    assert sorted(chosen) == ["site-1", "site-2", "site-3"]
    assert set(selection["exclusion_reasons"]) == set(selection["excluded_clients"])
    assert selection["policy_results"]["site-1"]["policies_applied"] == ["trust_threshold"]


def check_validation(rest: RestFederation) -> None:
    """Validation against the newest global model (the experiment's: wine, 13 x 3)."""
    client = rest.client(rest.fed.api.create_token("client", "validator").token)
    good = {"w": np.zeros((13, 3), np.float32), "b": np.zeros(3, np.float32)}
    report = client.validate_model("site-1", save(good))
    assert report["valid"] and report["checks"] == {
        "format": True, "shape_match": True, "finite_values": True,
    }  # fmt: skip
    poisoned = {**good, "w": np.full((13, 3), np.nan, np.float32)}
    report = client.validate_model("site-1", save(poisoned))
    assert not report["valid"] and report["checks"]["finite_values"] is False
    report = client.validate_model("site-1", save({"w": np.zeros((2, 2), np.float32)}))
    assert not report["valid"] and report["checks"]["shape_match"] is False
    report = client.validate_model("site-1", b"not safetensors")
    assert not report["valid"] and report["checks"]["format"] is False
    with pytest.raises(CohortError) as info:
        client.validate_model("client-999", save(good))
    assert info.value.code == ErrorCode.CLIENT_NOT_REGISTERED


def test_a_cli_job_is_an_experiment_and_stops_over_rest(
    rest: RestFederation, tmp_path: Any
) -> None:
    slow = toy_script("    time.sleep(2)")
    # The CLI job is the project admin's: a lead's key may stop only its own experiments.
    client = rest.client(rest.fed.api.create_token("project_admin", "cli job").token)
    before = client.list_experiments()["total_count"]
    job_id = rest.fed.submit(make_job(tmp_path / "slow", slow, num_rounds=20))
    listed = {e["experiment_id"]: e for e in client.list_experiments(limit=10)["experiments"]}
    assert listed[job_id]["status"] == "running"
    page = client.list_experiments(limit=1, offset=0)  # newest first: this job
    assert [e["experiment_id"] for e in page["experiments"]] == [job_id]
    assert page["total_count"] == before + 1 and page["has_more"] == (before > 0)
    page = client.list_experiments(limit=1, offset=before)  # the oldest
    assert len(page["experiments"]) == 1 and not page["has_more"]
    rest.fed.wait_for(job_id, lambda r: r.status == JobStatus.RUNNING)
    stopped = client.stop_training(reason="test over")
    assert stopped["experiment_id"] == job_id and stopped["status"] == "aborted"
    record = rest.fed.wait(job_id, timeout=60)
    assert record.status == JobStatus.ABORTED and "test over" in record.status_reason


def test_token_cli_create_list_revoke(rest: RestFederation) -> None:
    def cohort(*args: str) -> dict[str, Any]:
        kit = str(rest.fed.layout.admin_kit)
        done = subprocess.run(
            [sys.executable, "-m", "cohort.cli.main", "token", *args, "--startup-kit", kit,
             "--format", "json"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        data: dict[str, Any] = json.loads(done.stdout)["data"]
        return data

    made = cohort("create", "--role", "lead", "--expires", "1h", "--name", "cli")
    key, token_id = made["token"], made["record"]["token_id"]
    assert made["record"]["expires"] - made["record"]["created"] == pytest.approx(3600)
    assert rest.raw("GET", "/status", key=key).status_code == 200
    assert token_id in [t["token_id"] for t in cohort("list")["tokens"]]
    assert cohort("revoke", token_id)["record"]["revoked"] is not None
    assert rest.raw("GET", "/status", key=key).status_code == 401


def test_openapi_document_lists_every_route(rest: RestFederation) -> None:
    doc = rest.raw("GET", "/openapi.json", key=None).json()
    assert doc["servers"] == [{"url": "/api/v1"}]
    assert set(doc["paths"]) == {
        "/status", "/health", "/clients/register", "/clients/select", "/clients/{client_id}",
        "/clients", "/training/start", "/training/stop", "/training/status", "/experiments",
        "/model/global", "/model/download/{model_id}", "/model/update/{client_id}",
        "/model/validate/{client_id}", "/metrics/training", "/metrics/clients/{client_id}",
    }  # fmt: skip
    upload = doc["paths"]["/model/update/{client_id}"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert doc["paths"]["/status"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in doc["paths"]["/health"]["get"]  # the open probe
    refused = doc["paths"]["/training/start"]["post"]["responses"]["429"]["content"]
    assert refused["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # bad input is 400 here


def test_an_upload_over_rest_is_the_clients_update_for_the_round(
    rest: RestFederation, tmp_path: Any
) -> None:
    # site-1's own script stalls in round 1, so its open task is answered over REST instead.
    stall = '    if site == "site-1":\n        time.sleep(90)'
    job_id = rest.fed.submit(make_job(tmp_path / "by-rest", toy_script(stall), num_rounds=1))
    # A fresh training-client key (keys of the other tests may be near their rate limits).
    client = rest.client(rest.fed.api.create_token("client", "uploader").token)
    update = {"w": np.full(4, 100.0, np.float32)}
    rest.fed.wait_for(job_id, lambda r: r.current_round == 1, timeout=120)  # tasks exist now
    reply = client.upload_model_update("site-1", update, {"data_samples": 1, "acc": 0.5})
    assert reply["client_id"] == "site-1" and reply["round"] == 1 and reply["status"] == "received"
    record = rest.fed.wait(job_id, timeout=120)
    assert record.status == JobStatus.FINISHED_OK, record
    model = load(client.download_model(f"model_{job_id}_round_1"))
    # Weighted by samples: the REST update (100, weight 1), site-2 (2, weight 2), site-3 (3, 3).
    assert np.allclose(model["w"], (100 * 1 + 2 * 2 + 3 * 3) / 6)
    history = client.get_training_metrics(experiment_id=job_id)["rounds"][0]["client_metrics"]
    assert history["site-1"] == {"acc": 0.5, "data_samples": 1.0}
    # Once the job is over, uploads are refused.
    with pytest.raises(CohortError) as info:
        client.upload_model_update("site-1", {"w": np.zeros(4, np.float32)}, {"data_samples": 1})
    assert info.value.code in (ErrorCode.ROUND_NOT_ACTIVE, ErrorCode.EXPERIMENT_NOT_ACTIVE)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_client_under_node(rest: RestFederation) -> None:
    key = rest.fed.api.create_token("lead", "node").token
    env = {
        **os.environ,
        "COHORT_REST_URL": rest.url,
        "COHORT_API_KEY": key,
        "NODE_EXTRA_CA_CERTS": str(rest.ca),
    }
    done = subprocess.run(
        ["node", "--test", "clients/js/test/"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# pass 4" in done.stdout, done.stdout
