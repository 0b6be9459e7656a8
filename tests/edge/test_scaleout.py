"""Every Scaleout method against a real server with real sites, reading a finished session
(2 rounds, then continued for 1) of the built-in recipe on scikit-learn's wine data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from cohort.edge import Scaleout
from cohort.errors import CohortError
from cohort.states import JobStatus
from tests.edge.conftest import EdgeFederation

pytestmark = pytest.mark.xdist_group("edge")


def test_session_is_two_jobs_in_the_job_list(edge: EdgeFederation) -> None:
    with edge.client() as c:
        session = c.get_session(edge.session_id)
    assert session["job_ids"] == [edge.session_id, f"{edge.session_id}-2"]
    listed = {j.job_id: j for j in edge.rest.fed.api.list_jobs()}
    for job_id in session["job_ids"]:
        assert listed[job_id].status == JobStatus.FINISHED_OK
    assert listed[edge.session_id].total_rounds == 2
    assert listed[f"{edge.session_id}-2"].total_rounds == 1


def test_clients_combiners_and_controller(edge: EdgeFederation) -> None:
    sites = sorted(edge.rest.fed.sites)
    with edge.client() as c:
        active = c.get_active_clients()
        assert sorted(x["client_id"] for x in active["result"]) == sites
        assert active["count"] == len(sites)
        assert c.get_active_clients(n_max=1)["count"] == len(sites)
        assert len(c.get_active_clients(n_max=1)["result"]) == 1
        assert c.get_active_clients(combiner_id="elsewhere")["count"] == 0
        assert c.get_clients_count() == len(sites)
        assert c.get_clients_count(only_active=True) == len(sites)
        assert c.get_combiners_count() == 1
        status = c.get_controller_status()
        assert status["state"] == "idle" and status["connected_clients"] == len(sites)
        assert "checksum" in c.get_client_config(checksum=True)
        assert "checksum" not in c.get_client_config(checksum=False)


def test_model_trail_links_rounds_across_runs(edge: EdgeFederation) -> None:
    first, second = edge.session_id, f"{edge.session_id}-2"
    with edge.client() as c:
        active = c.get_active_model()
        assert active["model_id"] == f"model_{second}_round_1"
        trail = c.get_model_trail()
        assert [m["model_id"] for m in trail] == [
            f"model_{second}_round_1",
            f"model_{second}_round_0",
            f"model_{first}_round_2",
            f"model_{first}_round_1",
            f"model_{first}_round_0",
        ]
        assert trail[-1]["parent_model"] is None
        oldest_first = c.get_model_trail(active["model_id"], include_self=False, reverse=False)
        assert [m["model_id"] for m in oldest_first] == [m["model_id"] for m in trail[1:]][::-1]
        assert len(c.get_model_trail(n_max=2)) == 2
        assert c.get_models_count() == 5
        assert c.get_rounds_count() == 5


def test_download_model_is_the_stored_global_model(edge: EdgeFederation, tmp_path: Path) -> None:
    with edge.client() as c:
        active = c.get_active_model()
        target = tmp_path / "model.safetensors"
        assert c.download_model(active["model_id"], target)["success"] is True
    tensors = load_file(str(target))
    assert set(tensors) == {"w", "b"}
    assert tensors["w"].shape == (13, 3)  # wine: 13 features, 3 classes
    assert np.isfinite(tensors["w"]).all() and np.abs(tensors["w"]).sum() > 0


def test_validations_score_global_models_of_the_session(edge: EdgeFederation) -> None:
    sites = set(edge.rest.fed.sites)
    with edge.client() as c:
        models = {m["model_id"] for m in c.get_model_trail()}
        found = c.get_validations(session_id=edge.session_id)
        # per run: each site scores each received model while training, then the final one
        assert found["count"] == 3 * 2 + 3 + 3 * 1 + 3
        assert {v["model_id"] for v in found["result"]} <= models
        assert {v["sender"]["name"] for v in found["result"]} == sites
        assert all(0.0 <= v["data"]["accuracy"] <= 1.0 for v in found["result"])
        final = f"model_{edge.session_id}-2_round_1"
        on_final = c.get_validations(model_id=final)
        assert on_final["count"] == 3
        assert max(v["data"]["accuracy"] for v in on_final["result"]) > 0.8
        one = c.get_validations(sender_name="site-1", session_id=edge.session_id)
        assert one["count"] == found["count"] // 3
        assert c.get_validations(session_id=edge.session_id, n_max=2)["count"] == found["count"]
        assert c.get_validations_count(session_id=edge.session_id) == found["count"]
        assert c.get_validations_count() >= found["count"]


def test_statuses_record_tasks_and_added_events(edge: EdgeFederation) -> None:
    with edge.client() as c:
        before = c.get_statuses_count()
        updates = c.get_statuses(session_id=edge.session_id, event_type="MODEL_UPDATE")
        assert updates["count"] == 3 * (2 + 1)  # three sites, 2 + 1 training rounds
        assert {s["sender"]["role"] for s in updates["result"]} == {"client"}
        added = c.add_status(
            {"type": "NETWORK", "status": "maintenance at noon", "sender": {"name": "ops"}}
        )
        assert added["status"] == "maintenance at noon"
        assert c.get_statuses_count() == before + 1
        mine = c.get_statuses(sender_name="ops")
        assert [s["id"] for s in mine["result"]] == [added["id"]]
        assert c.get_statuses(sender_role="combiner", n_max=1)["count"] >= 2


def test_attributes_current_and_trail(edge: EdgeFederation) -> None:
    with edge.client() as c:
        c.add_attributes({"key": "charging", "value": "false", "entity_id": "site-2"})
        c.add_attributes({"key": "charging", "value": "true", "sender": {"client_id": "site-2"}})
        current = c.get_current_attributes(["site-2", "site-3"])
        assert current == {"site-2": {"charging": "true"}, "site-3": {}}
        assert c.get_current_attributes("site-2") == {"site-2": {"charging": "true"}}
        trail = c.get_attribute_trail("site-2")
        assert [a["value"] for a in trail["result"]] == ["false", "true"]
        with pytest.raises(ValueError):
            c.get_current_attributes([])


def test_seed_model_and_package_uploads(edge: EdgeFederation, tmp_path: Path) -> None:
    seed = tmp_path / "seed.npz"
    w = np.arange(39, dtype=np.float32).reshape(13, 3)
    np.savez(seed, w=w, b=np.zeros(3, np.float32))
    package = tmp_path / "package.tgz"
    package.write_bytes(b"an app archive " * 100_000)  # two chunks, and not a zip
    with edge.client() as c:
        models_before = c.get_models_count()
        packages_before = c.get_packages_count()
        active_before = c.get_active_package()
        model = c.set_active_model(seed)
        assert model["parent_model"] is None and model["session_id"] is None
        assert c.get_models_count() == models_before + 1
        assert c.get_active_model()["model_id"] == model["model_id"]
        c.download_model(model["model_id"], tmp_path / "back.safetensors")
        assert np.array_equal(load_file(str(tmp_path / "back.safetensors"))["w"], w)
        # a package must be a zip of an app (test_packages.py runs one): refused, not stored
        with pytest.raises(CohortError) as err:
            c.set_active_package(package, "numpyhelper", "my-app", "an app")
        assert str(err.value.code) == "INVALID_JOB_DEFINITION"
        assert c.get_packages_count() == packages_before
        assert c.get_active_package() == active_before
        assert c.get_package_checksum() == {"checksum": active_before["checksum"]}
        assert c.get_client_config()["checksum"] == active_before["checksum"]


def test_sessions_count_and_refused_keys(edge: EdgeFederation) -> None:
    with edge.client() as c:
        assert c.get_sessions_count() >= 1
    with edge.client(key="cohort_nope_nope") as bad, pytest.raises(CohortError) as err:
        bad.get_sessions_count()
    assert str(err.value.code) == "UNAUTHORIZED"


def test_predictions_run_a_model_on_the_sites(edge: EdgeFederation) -> None:
    model = f"model_{edge.session_id}-2_round_1"
    with edge.client() as c:
        started = c.start_predictions(prediction_id="p-wine", model_id=model)
        assert started["model_id"] == model
        job = edge.rest.fed.wait(started["job_id"])
        assert job.status == JobStatus.FINISHED_OK
        found = c.get_predictions(correlation_id="p-wine")
        assert found["count"] == 3
        assert {p["sender"]["client_id"] for p in found["result"]} == set(edge.rest.fed.sites)
        for p in found["result"]:
            counts = sum(v for k, v in p["data"].items() if k.startswith("predicted_"))
            assert counts == p["data"]["rows"] > 0  # every held-out row got one class
        assert c.get_predictions(model_id=model, client_id="site-1")["count"] == 1
        # prediction runs are jobs, not sessions
        assert all(not s.startswith("predict-") for s in _session_ids(c))


def _session_ids(c: Scaleout) -> list[str]:
    return [s["session_id"] for s in c._get("sessions/")["result"]]


def test_custom_command_runs_on_the_chosen_sites(edge: EdgeFederation) -> None:
    with edge.client() as c:
        before = {s["session_id"] for s in c._get("sessions/")["result"]}
        done = c.run_custom_command(
            "data_summary", blocking=True, timeout=120, client_ids=["site-1", "site-2"]
        )
        assert done["status"] == "Finished", done
        assert done["command_type"] == "Custom_data_summary"
        assert sorted(done["result"]) == ["site-1", "site-2"]
        # breast cancer: 30 features; each site's share of the training rows
        assert {r["features"] for r in done["result"].values()} == {30.0}
        assert all(r["train_rows"] > 0 and r["test_rows"] > 0 for r in done["result"].values())
        # the commands tree serves the same records; none has a parent or a barrier
        cid = done["correlation_id"]
        assert cid in {x["correlation_id"] for x in c._get("commands/roots")["result"]}
        assert c._get("commands/", parent_correlation_id=cid)["count"] == 0
        assert c._post(f"commands/{cid}/stop")["status"] == "Finished"  # it had ended
        with pytest.raises(CohortError) as err:
            c._post(f"commands/{cid}/skip")
        assert str(err.value.code) == "INVALID_REQUEST"
        unknown = c.run_custom_command("reboot", blocking=True, timeout=60)
        assert unknown["status"] == "Failed" and "reboot" in unknown["message"]
        assert {s["session_id"] for s in c._get("sessions/")["result"]} == before
