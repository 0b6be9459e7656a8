"""project.yml validation and `cohort provision`: kits, re-runs keeping the CA, key modes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from cohort.errors import InvalidRequest
from cohort.provision.kit import load_kit
from cohort.provision.project import PROJECT_TEMPLATE, load_project, parse_project, write_template
from cohort.provision.provisioner import provision


def _template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(PROJECT_TEMPLATE)
    return data


def _defects(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidRequest) as info:
        parse_project(data)
    defects: list[str] = info.value.details["defects"]
    return defects


def test_template_is_a_valid_project(tmp_path: Path) -> None:
    spec = load_project(write_template(tmp_path / "project.yml"))
    assert spec.name == "example_project"
    assert [s.name for s in spec.sites] == ["site-a1", "site-a2", "site-b1"]
    assert {u.role for u in spec.users} == {"project_admin", "org_admin", "lead", "member"}
    with pytest.raises(InvalidRequest, match="already exists"):
        write_template(tmp_path / "project.yml")


def test_validation_names_every_defect() -> None:
    data = _template()
    data["orgs"].append({"name": "hospital-a"})
    data["sites"].append({"name": "site-a1", "org": "hospital-a"})
    data["sites"].append({"name": "site-z", "org": "nowhere"})
    data["users"][3]["role"] = "boss"
    data["users"].append({"name": "server", "org": "hospital-b", "role": "member"})
    defects = _defects(data)
    assert "orgs[3]: duplicate org 'hospital-a'" in defects
    assert "sites[3]: duplicate name 'site-a1' (already used by sites[0])" in defects
    assert any(d.startswith("sites[4] (site-z): unknown org 'nowhere'") for d in defects)
    assert any(
        d.startswith("users[3] (member@hospital-b.org): unknown role 'boss'") for d in defects
    )
    assert "users[4]: duplicate name 'server' (already used by server)" in defects
    assert len(defects) == 5


def test_shape_errors_name_the_field() -> None:
    data = _template()
    del data["server"]["host"]
    data["server"]["port"] = 70000
    data["sites"][0]["colour"] = "red"
    defects = _defects(data)
    assert any(d.startswith("server.host:") for d in defects)
    assert any(d.startswith("server.port:") for d in defects)
    assert any(d.startswith("sites.0.colour:") for d in defects)


def test_provision_makes_kits_and_rerun_keeps_the_ca(tmp_path: Path) -> None:
    spec = parse_project(_template())
    first = provision(spec, tmp_path / "ws")
    assert first.prod_dir.name == "prod_00" and first.ca_created
    kit = load_kit(first.admin_kits["lead@hospital-a.org"])
    cert = x509.load_pem_x509_certificate(kit.cert.read_bytes())
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {
        NameOID.COMMON_NAME: "lead@hospital-a.org",
        NameOID.ORGANIZATION_NAME: "hospital-a",
        NameOID.ORGANIZATIONAL_UNIT_NAME: "lead",
    }
    for path in first.kits.values():
        assert (path / "startup" / "key.pem").stat().st_mode & 0o777 == 0o600
        assert (path / "README.txt").is_file()
    for name in ("server", "site-a1"):
        assert (first.kits[name] / "startup" / "stop.sh").is_file()
    resources = json.loads((first.site_kits["site-a1"] / "local" / "resources.json").read_text())
    assert resources == {"gpus": 1}

    second = provision(spec, tmp_path / "ws")
    assert second.prod_dir.name == "prod_01" and not second.ca_created
    root_pem = (first.ca_dir / "rootCA.pem").read_bytes()
    root = x509.load_pem_x509_certificate(root_pem)
    for result in (first, second):
        for path in result.kits.values():
            assert (path / "startup" / "rootCA.pem").read_bytes() == root_pem
            leaf = x509.load_pem_x509_certificate((path / "startup" / "cert.pem").read_bytes())
            leaf.verify_directly_issued_by(root)  # old and new kits chain to the same root


def test_cli_provision_reports_defects_with_exit_code_4(tmp_path: Path) -> None:
    data = _template()
    data["users"][0]["org"] = "nowhere"
    (tmp_path / "project.yml").write_text(yaml.safe_dump(data))
    run = subprocess.run(
        [sys.executable, "-m", "cohort.cli.main", "provision", "-p", "project.yml", "-w", "out",
         "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 4, run.stderr
    envelope = json.loads(run.stdout)
    assert envelope["error_code"] == "INVALID_REQUEST"
    assert "users[0] (admin@coordinator.org): unknown org 'nowhere'" in envelope["message"]
    assert not (tmp_path / "out").exists()


def test_the_example_project_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "project.yml"
    spec = load_project(example)
    assert spec.name == "cancer_research" and spec.server.host == "fl.example.org"
