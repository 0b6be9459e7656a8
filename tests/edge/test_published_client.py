"""The published ``scaleout`` client (1.1.0, from the package index) against Cohort's edge API.

It is not a dependency of Cohort: it needs Python >= 3.12 and pulls grpcio, protobuf,
cryptography and numpy 2.5, so it lives in its own venv, ``.venv-scaleout`` (create it with
``make .venv-scaleout``); without it this test is skipped. The client runs in a subprocess of
that venv's interpreter (published_client.py) and reports what each call returned.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cohort.states import JobStatus
from tests.edge.conftest import EdgeFederation, edge_federation, package_zip

pytestmark = pytest.mark.xdist_group("edge")

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-scaleout" / "bin" / "python"
SCRIPT = Path(__file__).with_name("published_client.py")


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeFederation]:
    """A federation of its own: the client sets the active model and package and adds
    attributes, which the shared federation's tests read."""
    with edge_federation(tmp_path_factory, "edge-published") as started:
        yield started


def _has_scaleout() -> bool:
    if not PYTHON.exists():
        return False
    probe = subprocess.run([PYTHON, "-c", "import scaleout"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _has_scaleout(),
    reason="the published scaleout client is not installed in .venv-scaleout "
    "(make .venv-scaleout: it needs Python 3.12 and is not a test dependency)",
)
def test_published_client_runs_a_session_on_cohort(edge: EdgeFederation, tmp_path: Path) -> None:
    url = f"https://{edge.host}:{edge.port}"
    package = package_zip()
    (tmp_path / "package.zip").write_bytes(package)
    run = subprocess.run(
        [PYTHON, SCRIPT, url, str(edge.rest.ca), edge.rest.admin_key, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    sites = sorted(edge.rest.fed.sites)

    assert out["controller"]["connected_clients"] == len(sites)
    assert sorted(c["client_id"] for c in out["active_clients"]["result"]) == sites
    assert out["clients_count"] == out["online_count"] == len(sites)
    assert out["combiners_count"] == 1
    # after its two runs of one round each on three sites: seed + 2 x 2 global models
    assert out["models_count"] == 5 and out["rounds_count"] == 4 and out["sessions_count"] == 1
    assert out["statuses"]["count"] == 6 and len(out["statuses"]["result"]) == 2
    assert out["validations_count"] > 0

    # the uploaded seed became the active model and the session started from it
    assert out["active_model"]["model_id"] == out["seed"]["model_id"]
    assert out["started"]["session_id"] and out["finished"]["status"] == "Finished"
    assert out["finished_again"]["status"] == "Finished"
    trail = [m["model_id"] for m in out["trail"]]
    sid = out["started"]["session_id"]
    assert trail == [
        f"model_{sid}-2_round_1",
        f"model_{sid}-2_round_0",
        f"model_{sid}_round_1",
        f"model_{sid}_round_0",
        out["seed"]["model_id"],
    ]
    assert out["validations"]["count"] == out["session_validations_count"] > 0

    digest = hashlib.sha256(package).hexdigest()
    assert out["package"]["name"] == "published-package"
    assert out["package"]["entry"] == "centroid_train.py"
    assert out["checksum_after"] == {"checksum": digest}
    assert out["current"] == {"site-3": {"zone": "eu"}}
    assert [a["value"] for a in out["trail_attributes"]["result"]] == ["eu"]
    assert out["status"]["status"] == "from scaleout"
    assert out["command"]["status"] == "Finished"
    assert sorted(out["command"]["result"]) == sites
    assert out["inference"]["model_id"] == trail[0]
    job = edge.rest.fed.wait(out["inference"]["job_id"])
    assert job.status == JobStatus.FINISHED_OK and job.sites == ["site-1"]

    # the commands tree, and the control calls Cohort serves or refuses with a reason
    cid = out["command"]["correlation_id"]
    assert out["command_one"]["correlation_id"] == cid
    assert cid in {x["correlation_id"] for x in out["commands"]["result"]}
    assert out["commands_count"] == out["commands"]["count"] == out["command_roots"]["count"]
    assert out["step"]["error"]["code"] == out["stage"]["error"]["code"] == "INVALID_REQUEST"
    assert "CONFLICT" in out["stop"] and "no session is running" in out["stop"]
    # a validation run: every site scores the final model, listed with the session's
    validated = edge.rest.fed.wait(out["validation_run"]["job_id"])
    assert validated.status == JobStatus.FINISHED_OK, validated.status_reason
    before = [v for v in out["validations"]["result"] if v["model_id"] == trail[0]]
    with edge.client() as c:
        after = c.get_validations(session_id=sid, model_id=trail[0])
    assert after["count"] == len(before) + len(sites)
