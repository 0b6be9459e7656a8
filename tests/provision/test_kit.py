"""Startup kits: what create_kit writes, and how load_kit reads it or says what is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from cohort.errors import ErrorCode, InvalidRequest
from cohort.provision import CertificateAuthority, Kit, KitConfig, create_kit, load_kit

from .conftest import file_mode


def _config(**overrides: Any) -> KitConfig:
    data: dict[str, Any] = {
        "kind": "site",
        "name": "site-1",
        "org": "org-a",
        "role": "site",
        "project": "proj",
        "server_host": "127.0.0.1",
        "server_port": 8443,
    }
    return KitConfig.model_validate(data | overrides)


@pytest.fixture
def site_kit(ca: CertificateAuthority, tmp_path: Path) -> Kit:
    return create_kit(ca, tmp_path / "prod", _config())


def test_site_kit_layout(site_kit: Kit, tmp_path: Path) -> None:
    assert site_kit.dir == tmp_path / "prod" / "site-1"
    startup = site_kit.dir / "startup"
    assert sorted(p.name for p in startup.iterdir()) == [
        "cert.pem",
        "key.pem",
        "kit.json",
        "rootCA.pem",
        "start.sh",
        "stop.sh",
    ]
    assert (site_kit.cert, site_kit.key, site_kit.ca) == (
        startup / "cert.pem",
        startup / "key.pem",
        startup / "rootCA.pem",
    )
    assert site_kit.local_dir.is_dir()
    assert not any(site_kit.local_dir.iterdir())
    assert not site_kit.transfer_dir.exists()  # admins only
    assert file_mode(site_kit.key) == 0o600
    assert (site_kit.dir / "README.txt").read_text().startswith("Cohort startup kit: site-1")


def test_start_script_is_executable_and_starts_the_site(site_kit: Kit) -> None:
    script = site_kit.dir / "startup" / "start.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert 'exec cohort site start --kit "$kit" --workspace "$kit/workspace"' in text


def test_server_kit_start_script_and_san(ca: CertificateAuthority, tmp_path: Path) -> None:
    config = _config(kind="server", name="server", role="server", server_host="fl.example.org")
    kit = create_kit(ca, tmp_path, config)
    assert 'exec cohort server start --kit "$kit"' in (kit.dir / "startup" / "start.sh").read_text()
    cert = x509.load_pem_x509_certificate(kit.cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "fl.example.org" in sans.get_values_for_type(x509.DNSName)


def test_admin_kit_has_transfer_and_no_start_script(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    config = _config(kind="admin", name="admin@cohort.local", role="project_admin")
    kit = create_kit(ca, tmp_path, config)
    assert kit.transfer_dir.is_dir()
    assert not any(kit.transfer_dir.iterdir())
    assert not (kit.dir / "startup" / "start.sh").exists()
    assert file_mode(kit.key) == 0o600


def test_kit_files_agree_with_each_other(ca: CertificateAuthority, site_kit: Kit) -> None:
    cert = x509.load_pem_x509_certificate(site_kit.cert.read_bytes())
    key = serialization.load_pem_private_key(site_kit.key.read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    root = x509.load_pem_x509_certificate(site_kit.ca.read_bytes())
    assert root == ca.cert
    cert.verify_directly_issued_by(root)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "site-1"
    assert json.loads((site_kit.dir / "startup" / "kit.json").read_text()) == {
        "kind": "site",
        "name": "site-1",
        "org": "org-a",
        "role": "site",
        "project": "proj",
        "server_host": "127.0.0.1",
        "server_port": 8443,
    }


def test_load_from_kit_folder_or_startup_folder(site_kit: Kit) -> None:
    assert load_kit(site_kit.dir) == site_kit
    assert load_kit(site_kit.dir / "startup") == site_kit
    assert site_kit.server_url == "https://127.0.0.1:8443"


def test_server_url_brackets_ipv6() -> None:
    kit = Kit(_config(server_host="::1"), Path(), Path(), Path(), Path())
    assert kit.server_url == "https://[::1]:8443"


def test_create_refuses_an_existing_kit(ca: CertificateAuthority, site_kit: Kit) -> None:
    with pytest.raises(InvalidRequest, match="already exists"):
        create_kit(ca, site_kit.dir.parent, _config())


def test_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as info:
        load_kit(tmp_path / "nope")
    assert "nope" in info.value.message
    assert info.value.code == ErrorCode.INVALID_REQUEST
    assert "startup" in info.value.hint


@pytest.mark.parametrize("missing", ["kit.json", "cert.pem", "key.pem", "rootCA.pem"])
def test_load_names_the_missing_file(site_kit: Kit, missing: str) -> None:
    (site_kit.dir / "startup" / missing).unlink()
    with pytest.raises(InvalidRequest) as info:
        load_kit(site_kit.dir)
    assert f"startup/{missing}" in info.value.message
    assert info.value.details["missing"] == missing
    assert info.value.hint


def test_load_folder_without_startup(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match=r"startup/kit\.json"):
        load_kit(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"kind": "site"}',
        json.dumps(_config().model_dump() | {"server_port": 0}),
        json.dumps(_config().model_dump() | {"role": "project_admin"}),  # kind/role mismatch
        json.dumps(_config().model_dump() | {"surprise": 1}),
    ],
)
def test_load_invalid_kit_json(site_kit: Kit, content: str) -> None:
    (site_kit.dir / "startup" / "kit.json").write_text(content)
    with pytest.raises(InvalidRequest, match=r"kit\.json") as info:
        load_kit(site_kit.dir)
    assert info.value.hint


@pytest.mark.parametrize(
    ("kind", "role"),
    [("server", "site"), ("site", "server"), ("admin", "site"), ("site", "member")],
)
def test_kit_config_role_must_fit_kind(kind: str, role: str) -> None:
    with pytest.raises(ValidationError):
        _config(kind=kind, role=role)


@pytest.mark.parametrize("role", ["project_admin", "org_admin", "lead", "member"])
def test_admin_roles_are_accepted(role: str) -> None:
    assert _config(kind="admin", role=role).role == role
