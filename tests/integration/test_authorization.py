"""Authorization over real processes: a provisioned multi-org project, each role's allowed and
refused actions, the audit log, studies (enrollment rules and dispatch), and certificates that
must not get in (expired, a site's on the admin API, an admin's on the fleet API)."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cohort.admin.api import AdminAPI
from cohort.errors import CohortError
from cohort.provision.ca import CertificateAuthority
from cohort.provision.kit import load_kit
from cohort.provision.poc import PocLayout
from cohort.provision.project import parse_project
from cohort.provision.provisioner import provision
from cohort.tls import client_ssl_context
from tests.integration.federation import Federation, make_job, toy_script

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("authz")]

PROJECT = {
    "name": "authz",
    "server": {"host": "127.0.0.1", "port": 0, "org": "hq"},
    "orgs": [{"name": "hq"}, {"name": "hosp-a"}, {"name": "hosp-b"}],
    "sites": [
        {"name": "a-1", "org": "hosp-a"},
        {"name": "a-2", "org": "hosp-a"},
        {"name": "b-3", "org": "hosp-b"},
    ],
    "users": [
        {"name": "pa@hq", "org": "hq", "role": "project_admin"},
        {"name": "oa@a", "org": "hosp-a", "role": "org_admin"},
        {"name": "lead@a", "org": "hosp-a", "role": "lead"},
        {"name": "lead@b", "org": "hosp-b", "role": "lead"},
        {"name": "member@b", "org": "hosp-b", "role": "member"},
    ],
}


class Fed:
    """The running federation and one admin client per user."""

    def __init__(self, fed: Federation, admins: dict[str, Path], tmp: Path) -> None:
        self.fed = fed
        self.kits = admins
        self.api = {name: AdminAPI(load_kit(path)) for name, path in admins.items()}
        self.job = make_job(tmp / "toy", toy_script(), num_rounds=1, min_clients=2)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    from cohort.provision.poc import free_port

    tmp = tmp_path_factory.mktemp("authz")
    project = {**PROJECT, "server": {**PROJECT["server"], "port": free_port()}}  # type: ignore[dict-item]
    spec = parse_project(project)
    made = provision(spec, tmp / "provisioned")
    layout = PocLayout.of(tmp, spec, made, "pa@hq")
    federation = Federation(tmp, layout=layout)
    state = Fed(federation, made.admin_kits, tmp)
    try:
        federation.start(timeout=60)
        yield state
    finally:
        for api in state.api.values():
            api.close()
        federation.stop()


def refused(call: object, *args: object, **kwargs: object) -> CohortError:
    """Run ``call`` and return the CohortError it must raise."""
    assert callable(call)
    with pytest.raises(CohortError) as info:
        call(*args, **kwargs)
    return info.value


def test_role_matrix_over_real_processes(fed: Fed) -> None:
    api = fed.api
    job_id = api["lead@a"].submit_job(fed.job)  # lead: submit allowed
    for viewer in api.values():  # every role views
        assert viewer.get_job(job_id).job_id == job_id
        viewer.list_jobs()
        viewer.system_info()

    for who in ("member@b", "oa@a"):  # member and org_admin may not submit
        err = refused(api[who].submit_job, fed.job)
        assert err.code == "NOT_AUTHORIZED"
        assert "may not job.submit" in err.message and "rule" in err.message

    err = refused(api["lead@b"].abort_job, job_id)  # another lead's job
    assert err.code == "NOT_AUTHORIZED"
    assert "lead may job.manage only its own jobs" in err.message
    assert "submitted by lead@a" in err.message
    assert refused(api["member@b"].abort_job, job_id).code == "NOT_AUTHORIZED"
    assert refused(api["oa@a"].delete_job, job_id).code == "NOT_AUTHORIZED"

    record = fed.fed.wait(job_id)
    assert record.status == "FINISHED_OK", record.status_reason
    assert (record.submitter, record.submitter_org, record.submitter_role) == (
        "lead@a",
        "hosp-a",
        "lead",
    )
    api["lead@a"].abort_job(job_id)  # its own job: allowed (no effect once ended)
    clone = api["pa@hq"].clone_job(job_id)  # project_admin: everything
    api["pa@hq"].abort_job(clone.new_job_id)

    # The audit log: refusals with their rule, and outcomes, readable by admins only.
    assert refused(api["member@b"].audit_log).code == "NOT_AUTHORIZED"
    assert refused(api["lead@a"].audit_log).code == "NOT_AUTHORIZED"
    entries = api["oa@a"].audit_log(limit=500)
    mine = [(e.user, e.action, e.target, e.outcome) for e in entries]
    assert ("lead@a", "job.submit", "default", "ok") in mine  # target: the study
    assert ("lead@b", "job.manage", job_id, "refused") in mine
    assert ("lead@a", "job.manage", job_id, "ok") in mine
    assert ("pa@hq", "job.submit", job_id, "ok") in mine  # the clone
    refusal = next(e for e in entries if e.user == "member@b" and e.action == "job.submit")
    assert "rule 'member may not job.submit'" in refusal.detail
    assert refusal.role == "member" and refusal.org == "hosp-b" and refusal.time > 0


def test_study_enrollment_rules(fed: Fed) -> None:
    api = fed.api
    # org_admin: flat site list, own org only
    reply = api["oa@a"].register_study("onco", sites=["a-1"])
    assert reply["added"] == ["a-1"]
    assert reply["study"]["users"] == ["oa@a"]
    err = refused(api["oa@a"].add_study_site, "onco", sites=["b-3"])
    assert err.code == "NOT_AUTHORIZED" and "only for its own org (hosp-a)" in err.message
    err = refused(api["oa@a"].add_study_site, "onco", site_orgs=["hosp-a:a-2"])
    assert err.code == "INVALID_ARGS"
    again = api["oa@a"].add_study_site("onco", sites=["a-1", "a-2"])
    assert (again["added"], again["already_enrolled"]) == (["a-2"], ["a-1"])
    # project_admin: org groups, checked against the orgs the sites connected with
    err = refused(api["pa@hq"].add_study_site, "onco", site_orgs=["hosp-b:a-1"])
    assert err.code == "INVALID_ARGS" and "belongs to org hosp-a" in err.message
    assert refused(api["pa@hq"].add_study_site, "onco", sites=["b-3"]).code == "INVALID_ARGS"
    # exactly one of sites / site_orgs, checked by the server too
    for body in ({"sites": ["a-1"], "site_orgs": ["hosp-a:a-1"]}, {}):
        raw = refused(api["pa@hq"]._request, "POST", "/admin/v1/studies/onco/sites", json=body)
        assert raw.code == "INVALID_ARGS"
    # lead and member may not manage studies; the default study is not in the registry
    assert refused(api["lead@a"].register_study, "x", sites=["a-1"]).code == "NOT_AUTHORIZED"
    assert refused(api["member@b"].remove_study, "onco").code == "NOT_AUTHORIZED"
    assert refused(api["pa@hq"].show_study, "nope").code == "STUDY_NOT_FOUND"
    err = refused(api["pa@hq"].register_study, "default", site_orgs=["hosp-a:a-1"])
    assert err.code == "INVALID_STUDY_NAME"
    # study users: an org_admin manages those of a study whose sites are all of its org
    assert api["oa@a"].add_study_user("onco", "lead@a")["users"] == ["lead@a", "oa@a"]
    api["pa@hq"].add_study_site("onco", site_orgs=["hosp-b:b-3"])
    err = refused(api["oa@a"].add_study_user, "onco", "lead@b")
    assert err.code == "NOT_AUTHORIZED" and "hosp-b" in err.message
    assert refused(api["lead@a"].add_study_user, "onco", "lead@b").code == "NOT_AUTHORIZED"
    api["pa@hq"].remove_study_site("onco", site_orgs=["hosp-b:b-3"])
    removed = api["oa@a"].remove_study_site("onco", sites=["a-2", "a-9"])
    assert (removed["removed"], removed["not_enrolled"]) == (["a-2"], ["a-9"])
    api["oa@a"].remove_study("onco")
    assert "onco" not in [s["name"] for s in api["member@b"].list_studies()]


def test_study_jobs_run_only_on_enrolled_sites(fed: Fed) -> None:
    api = fed.api
    cli = [sys.executable, "-m", "cohort.cli.main"]
    run = subprocess.run(
        [*cli, "study", "register", "cancer", "--site-org", "hosp-a:a-1,a-2",
         "--startup-kit", str(fed.kits["pa@hq"]), "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["data"]["added"] == ["a-1", "a-2"]

    err = refused(api["lead@b"].submit_job, fed.job, study="cancer")
    assert err.code == "NOT_AUTHORIZED" and "not a user of study cancer" in err.message
    # a name outside the registry is a plain namespace, open to every submitter and site
    plain = api["lead@a"].submit_job(fed.job, study="plain")
    assert api["lead@a"].wait_job(plain, study="plain", timeout=120).status == "FINISHED_OK"
    api["pa@hq"].add_study_user("cancer", "lead@b")
    job_id = api["lead@b"].submit_job(fed.job, study="cancer")
    record = api["lead@b"].wait_job(job_id, study="cancer", timeout=120)
    assert record.status == "FINISHED_OK", record.status_reason
    assert sorted(record.sites) == ["a-1", "a-2"]  # b-3 is connected but not enrolled
    # b-3's certificate cannot reach into the job it was not dispatched to
    b3 = load_kit(fed.fed.layout.site_kits["b-3"])
    with httpx.Client(
        base_url=fed.fed.layout.server_url, verify=client_ssl_context(b3), timeout=30
    ) as http:
        for path in (f"/fleet/v1/jobs/{job_id}/app", f"/fleet/v1/jobs/{job_id}/task?wait=0"):
            reply = http.get(path)
            assert reply.status_code == 403, path
            assert "site b-3 is not part of job" in reply.json()["error"]["message"]
    err = refused(api["lead@b"].get_job, job_id)  # asked for in the default study
    assert err.code == "JOB_NOT_FOUND" and "--study" in err.hint
    shown = api["member@b"].show_study("cancer")
    assert shown["users"] == ["lead@b", "pa@hq"]
    api["pa@hq"].remove_study_user("cancer", "lead@b")
    assert refused(api["lead@b"].submit_job, fed.job, study="cancer").code == "NOT_AUTHORIZED"


def _expired_client(fed: Fed, tmp: Path) -> ssl.SSLContext:
    """A certificate the project CA signed for a site, which expired yesterday."""
    ca = CertificateAuthority.load(fed.fed.layout.project_dir / "ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "a-1"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hosp-a"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "site"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(ca.key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(cafile=str(fed.fed.layout.project_dir / "ca" / "rootCA.pem"))
    ctx.load_cert_chain(str(tmp / "cert.pem"), str(tmp / "key.pem"))
    return ctx


def test_certificates_that_must_not_get_in(fed: Fed, tmp_path: Path) -> None:
    url = fed.fed.layout.server_url
    site = load_kit(fed.fed.layout.site_kits["a-1"])
    admin = load_kit(fed.kits["pa@hq"])
    with httpx.Client(base_url=url, verify=client_ssl_context(site), timeout=30) as http:
        reply = http.get("/admin/v1/jobs")  # a site's certificate on the admin API
        assert reply.status_code == 403
        assert reply.json()["error"]["code"] == "NOT_AUTHORIZED"
    with httpx.Client(base_url=url, verify=client_ssl_context(admin), timeout=30) as http:
        reply = http.post("/fleet/v1/heartbeat", json={"running_jobs": []})  # admin on fleet
        assert reply.status_code == 403
        assert reply.json()["error"]["code"] == "NOT_AUTHORIZED"
    with (
        pytest.raises((httpx.TransportError, ssl.SSLError)),
        httpx.Client(base_url=url, verify=_expired_client(fed, tmp_path), timeout=30) as http,
    ):
        http.get("/health")
    # the refusals hurt nobody: the real site and admin are still served
    assert fed.api["pa@hq"].system_info()["status"] == "started"


def test_reprovisioning_keeps_the_ca_so_old_and_new_kits_both_work(fed: Fed) -> None:
    layout = fed.fed.layout
    project = {**PROJECT, "server": {**PROJECT["server"], "port": layout.port}}
    again = provision(parse_project(project), layout.project_dir.parent)
    assert again.prod_dir.name == "prod_01" and not again.ca_created
    # the server runs with its prod_00 kit; an admin kit of prod_01 is accepted by it
    with AdminAPI(load_kit(again.admin_kits["member@b"])) as new_kit:
        assert new_kit.system_info()["status"] == "started"
    assert fed.api["member@b"].system_info()["status"] == "started"  # prod_00 kit still valid


def test_a_sites_policy_file_refuses_jobs_from_a_role(fed: Fed) -> None:
    policy = fed.fed.layout.site_kits["b-3"] / "local" / "policy.json"
    policy.write_text('{"refuse_roles": ["lead"]}')
    try:
        job_id = fed.api["lead@b"].submit_job(fed.job)
        record = fed.fed.wait(job_id)
    finally:
        policy.unlink()
    assert record.status == "FINISHED_OK", record.status_reason  # a-1 and a-2 sufficed
    errors = {e["site"]: e for e in record.site_errors}
    assert set(errors) == {"b-3"}
    assert "refused by the site's policy: jobs submitted by role lead" in errors["b-3"]["error"]
    assert "refused by this site's policy" in fed.fed.log_text("b-3")


def _connected(api: AdminAPI, site: str) -> bool:
    return any(s["site"]["name"] == site and s["connected"] for s in api.system_info()["sites"])


def test_a_disabled_sites_certificate_is_refused_until_enabled(fed: Fed) -> None:
    api = fed.api
    err = refused(api["lead@b"].set_site_enabled, "a-2", False)  # another org's site
    assert err.code == "NOT_AUTHORIZED" and "only for its own org (hosp-b)" in err.message
    assert refused(api["member@b"].set_site_enabled, "b-3", False).code == "NOT_AUTHORIZED"
    assert refused(api["oa@a"].set_site_enabled, "nope", False).code == "SITE_NOT_FOUND"

    assert api["oa@a"].set_site_enabled("a-2", False).enabled is False
    try:
        deadline = time.monotonic() + 60
        while "the server refuses this site: site a-2 is disabled" not in fed.fed.log_text("a-2"):
            assert time.monotonic() < deadline, fed.fed.log_text("a-2")[-2000:]
            time.sleep(0.3)
        assert not _connected(api["pa@hq"], "a-2")
        with httpx.Client(
            base_url=fed.fed.layout.server_url,
            verify=client_ssl_context(load_kit(fed.fed.layout.site_kits["a-2"])),
            timeout=30,
        ) as http:
            reply = http.post("/fleet/v1/heartbeat", json={"running_jobs": []})
            assert reply.status_code == 403
            assert "cohort site enable a-2" in reply.json()["error"]["hint"]
    finally:
        api["lead@a"].set_site_enabled("a-2", True)  # a lead operates its org's sites
    deadline = time.monotonic() + 60
    while not _connected(api["pa@hq"], "a-2"):
        assert time.monotonic() < deadline, "a-2 did not come back after enable"
        time.sleep(0.3)
