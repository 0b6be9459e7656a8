"""The platform end to end: a real 3-site job over mTLS on loopback, on real data."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from cohort.states import JobStatus
from tests.integration.federation import Federation, running_federation, wait_no_job_processes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("end_to_end")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """A server without sites, shared by the tests whose requests it must refuse (none of
    them may leave a job behind, so each checks the same empty job list)."""
    with running_federation(tmp_path_factory, 1, sites=[]) as federation:
        yield federation


def test_hello_numpy_three_sites_reaches_accuracy(federation: Federation, tmp_path: Path) -> None:
    federation.start()
    job_id = federation.submit()
    record = federation.wait(job_id, timeout=120)
    assert record.status == JobStatus.FINISHED_OK, record
    assert record.sites == ["site-1", "site-2", "site-3"]

    rounds = federation.api.rounds(job_id)
    assert [r.round for r in rounds] == [0, 1, 2, 3, 4, 5]  # initial model + 5 rounds
    assert all(r.num_updates == 3 for r in rounds[1:])
    assert rounds[-1].metrics["accuracy"] >= 0.95
    # Accuracy is the sites' evaluation of each global model: training must improve it.
    assert rounds[-1].metrics["accuracy"] > rounds[0].metrics["accuracy"]

    out = federation.api.download_result(job_id, tmp_path / "result")
    summary = json.loads((out / "workspace" / "metrics_summary.json").read_text())
    assert summary["final_metrics"]["accuracy"] == pytest.approx(rounds[-1].metrics["accuracy"])
    model = load_file(str(out / "workspace" / "FL_global_model.safetensors"))
    assert set(model) == {"w", "b"} and model["w"].shape == (30,)
    for site in ("site-1", "site-2", "site-3"):
        assert "final model test accuracy" in (out / "workspace" / site / "log.txt").read_text()
    wait_no_job_processes(job_id, timeout=10.0)  # every process of the job ends


def test_connection_without_valid_client_certificate_is_refused(
    server: Federation, tmp_path: Path
) -> None:
    import ssl

    import httpx

    from cohort.provision.poc import prepare_poc

    url = server.layout.server_url
    ca = str(server.layout.server_kit / "startup" / "rootCA.pem")
    with pytest.raises(httpx.HTTPError):  # no certificate at all
        httpx.get(f"{url}/health", verify=ssl.create_default_context(cafile=ca))
    other = prepare_poc(tmp_path / "other", 1)  # a kit from another federation's CA
    ctx = ssl.create_default_context(cafile=ca)
    site_kit = other.site_kits["site-1"] / "startup"
    ctx.load_cert_chain(site_kit / "cert.pem", site_kit / "key.pem")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/admin/v1/system", verify=ctx)
    assert server.api.system_info()["status"] == "started"  # the server is still up


def test_malformed_job_is_refused_with_its_code_and_leaves_no_trace(
    server: Federation, tmp_path: Path
) -> None:
    from cohort.errors import CohortError, ErrorCode

    bad = tmp_path / "bad-job"
    bad.mkdir()
    (bad / "meta.json").write_text('{"name": "x", "deploy_map": {"app": ["@ALL"]}}')
    with pytest.raises(CohortError) as info:  # deploy_map names an app folder that is missing
        server.api.submit_job(bad)
    assert info.value.code == ErrorCode.DEPLOY_MAP_INVALID
    (bad / "meta.json").write_text("{not json")
    with pytest.raises(CohortError) as info:
        server.api.submit_job(bad)
    assert info.value.code == ErrorCode.JOB_META_INVALID
    assert server.api.list_jobs() == []
    jobs_dir = server.server_ws() / "artifacts" / "jobs"
    assert not jobs_dir.exists() or not any(jobs_dir.iterdir())


def test_zip_slip_archive_is_refused(server: Federation, tmp_path: Path) -> None:
    import io

    from cohort.errors import CohortError, ErrorCode
    from cohort.httpclient import check_response

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("meta.json", '{"name": "x", "deploy_map": {"app": ["@ALL"]}}')
        zf.writestr("../../escape.py", "print('pwned')")
    with pytest.raises(CohortError) as info:
        check_response(server.api.http.post("/admin/v1/jobs", content=buf.getvalue()))
    assert info.value.code == ErrorCode.UNSAFE_PATH
    assert not (server.tmp / "escape.py").exists()
    assert server.api.list_jobs() == []
