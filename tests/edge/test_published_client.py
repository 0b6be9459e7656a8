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
from pathlib import Path

import pytest

from cohort.states import JobStatus
from tests.edge.conftest import EdgeFederation, package_zip

pytestmark = pytest.mark.xdist_group("edge")

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-scaleout" / "bin" / "python"
SCRIPT = Path(__file__).with_name("published_client.py")


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
    assert out["models_count"] >= 5 and out["rounds_count"] >= 5 and out["sessions_count"] >= 1
    assert out["statuses"]["count"] >= 9 and len(out["statuses"]["result"]) == 2
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
