"""A compute package is a session's site app: an uploaded package (examples/edge-package) runs
on the sites of a real federation, a hostile or malformed one is refused with its code, and a
site whose policy refuses custom code refuses the package's job. A validation run of the
package's model runs the package too, and ``control/stop`` aborts a running session.

The module has its own federation: making a package active changes what every later session
of the shared one would run.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cohort.errors import CohortError
from cohort.states import JobStatus
from tests.edge.conftest import PACKAGE, EdgeFederation, edge_federation, package_zip

pytestmark = pytest.mark.xdist_group("edge-packages")


def zip_of(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    """A zip of ``entries`` (and of symbolic-link entries named in ``links``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeFederation]:
    """Three sites and a server with the edge listener."""
    with edge_federation(tmp_path_factory, "edge-packages") as started:
        yield started


@pytest.mark.parametrize(
    ("archive", "code"),
    [
        (b"\x1f\x8b not a zip but a gzip", "INVALID_JOB_DEFINITION"),
        (zip_of({"helpers.py": b"x = 1\n"}), "INVALID_JOB_DEFINITION"),  # no train.py
        (zip_of({"cohort-package.json": b'{"entry": "../up.py"}'}), "INVALID_JOB_DEFINITION"),
        (zip_of({"train.py": b"", "cohort-package.json": b"{nope"}), "INVALID_JOB_DEFINITION"),
        (zip_of({"train.py": b"", "../../escape.py": b""}), "UNSAFE_PATH"),
        (zip_of({"train.py": b""}, links=("passwd",)), "UNSAFE_PATH"),
    ],
    ids=["gzip", "no-entry", "entry-escapes", "bad-manifest", "zip-slip", "symlink"],
)
def test_a_bad_package_is_refused_and_not_stored(
    fed: EdgeFederation, tmp_path: Path, archive: bytes, code: str
) -> None:
    path = tmp_path / "package.zip"
    path.write_bytes(archive)
    with fed.client() as c:
        before = c.get_packages_count()
        with pytest.raises(CohortError) as err:
            c.set_active_package(path, "numpyhelper", "hostile")
        assert str(err.value.code) == code, err.value
        assert c.get_packages_count() == before
        assert c.get_active_package()["builtin"] is True


def test_a_session_runs_the_active_package(fed: EdgeFederation, tmp_path: Path) -> None:
    archive = tmp_path / "edge-package.zip"
    archive.write_bytes(package_zip())
    policy = fed.rest.fed.layout.site_kits["site-3"] / "local" / "policy.json"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text('{"allow_custom_code": false}')  # read again for every job
    with fed.client() as c:
        pkg = c.set_active_package(archive, "numpyhelper", "centroids", "nearest centroids")
        assert pkg["active"] is True and pkg["entry"] == "centroid_train.py"
        try:
            started = c.start_session(name="pkg", rounds=2, min_clients=2, round_timeout=120)
            sid = started["session_id"]
            assert fed.wait_finished(sid, 1)["status"] == "Finished"
        finally:
            policy.unlink()
        validations = c.get_validations(session_id=sid)
        rounds = c._get("rounds/", session_id=sid)["result"]
        # every site (site-3 too, now) scores the final model, with the package's script
        final = f"model_{sid}_round_2"
        run = c._post("validations/start", {"session_id": sid, "model_id": final})
        validated = fed.rest.fed.wait(run["job_id"])
        assert validated.status == JobStatus.FINISHED_OK, validated.status_reason
        after = c.get_validations(session_id=sid, model_id=final)
        count_after = c.get_validations_count(session_id=sid)
        sessions = {s["session_id"] for s in c._get("sessions/")["result"]}

    job = fed.rest.fed.wait(sid)
    assert job.status == JobStatus.FINISHED_OK, job.status_reason
    assert sid in {j.job_id for j in fed.rest.fed.api.list_jobs()}
    # the job records the package it ran; site-3's policy refused its custom code
    assert job.meta["edge_package"] == {
        "package_id": pkg["package_id"],
        "checksum": pkg["checksum"],
    }
    assert sorted(e["site"] for e in job.site_errors) == ["site-3"]
    assert "allow_custom_code is false" in job.site_errors[0]["error"]

    # the package's script ran: its metric, which the built-in app never sends, on real iris data
    trained = [r for r in rounds if r["round"] >= 1]
    assert trained and all("centroid_accuracy" in r["round_data"]["metrics"] for r in trained)
    assert max(r["round_data"]["metrics"]["centroid_accuracy"] for r in trained) > 0.8
    assert {v["sender"]["name"] for v in validations["result"]} == {"site-1", "site-2"}

    # the job's site app is the package: its files under app/custom, its entry and arguments
    app = fed.rest.fed.server_ws() / "artifacts" / "jobs" / sid / "job" / "app"
    assert (app / "custom" / "centroid_train.py").read_bytes() == (
        PACKAGE / "centroid_train.py"
    ).read_bytes()
    assert (app / "custom" / "centroids.py").is_file()
    assert not (app / "custom" / "tabular_softmax.py").exists()
    client = json.loads((app / "config" / "config_fed_client.json").read_text())
    assert client["script"] == "custom/centroid_train.py"
    assert client["args"] == ["--dataset", "iris", "--shares", "3"]
    # and the sites' logs in the job's result hold the lines the package's script prints
    result = fed.rest.fed.api.download_result(sid, tmp_path / "result")
    log = (result / "workspace" / "site-1" / "log.txt").read_text()
    assert "site-1: round 1 centroid accuracy" in log
    # the validation run: three more scores of the final model, in the session
    assert validations["count"] + 3 == count_after
    extra = [v for v in after["result"] if v["sender"]["name"] == "site-3"]
    assert len(extra) == 1 and extra[0]["data"]["accuracy"] > 0.8
    assert sid in sessions and run["job_id"] not in sessions


def test_control_stop_aborts_the_running_session(fed: EdgeFederation) -> None:
    with fed.client() as c:
        sid = c.start_session(name="long", rounds=200, min_clients=3)["session_id"]
        fed.rest.fed.wait_for(sid, lambda j: j.status == JobStatus.RUNNING)
        stopped = c._post("control/stop")
        assert stopped["job_ids"] == [sid]
        job = fed.rest.fed.wait(sid)
        assert job.status == JobStatus.ABORTED and "control/stop" in job.status_reason
        assert c.get_session(sid)["status"] == "Failed"
        with pytest.raises(CohortError) as err:
            c._post("control/stop")
        assert str(err.value.code) == "CONFLICT"
