"""POC workspaces: layout, poc.json round trip, refusal and force, speed."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from cryptography import x509

from cohort.errors import InvalidRequest
from cohort.provision import CertificateAuthority, PocLayout, load_kit, load_poc, prepare_poc

from .conftest import file_mode


def test_layout(poc: PocLayout, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert poc.workspace == ws
    assert poc.project_dir == ws / "example_project"
    assert poc.prod_dir == ws / "example_project" / "prod_00"
    assert poc.server_kit == poc.prod_dir / "server"
    assert poc.site_kits == {f"site-{i}": poc.prod_dir / f"site-{i}" for i in (1, 2)}
    assert poc.admin_kit == poc.prod_dir / "admin@cohort.local"
    assert sorted(p.name for p in poc.prod_dir.iterdir()) == [
        "admin@cohort.local",
        "project.yml",  # the project file the POC was provisioned from
        "server",
        "site-1",
        "site-2",
    ]
    assert (ws / "poc.json").is_file()


def test_kits_describe_the_poc(poc: PocLayout) -> None:
    server = load_kit(poc.server_kit)
    assert (server.config.kind, server.config.role) == ("server", "server")
    for name, path in poc.site_kits.items():
        site = load_kit(path)
        assert (site.config.kind, site.config.name, site.config.org, site.config.role) == (
            "site",
            name,
            "cohort",
            "site",
        )
    admin = load_kit(poc.admin_kit)
    assert (admin.config.kind, admin.config.name, admin.config.role) == (
        "admin",
        "admin@cohort.local",
        "project_admin",
    )
    assert admin.transfer_dir.is_dir()
    for kit in (server, admin, *(load_kit(p) for p in poc.site_kits.values())):
        assert kit.config.project == "example_project"
        assert kit.server_url == f"https://127.0.0.1:{poc.port}"
        assert file_mode(kit.key) == 0o600


def test_ca_stays_out_of_the_kits(poc: PocLayout) -> None:
    assert poc.ca_dir == poc.project_dir / "ca"
    assert file_mode(poc.ca_dir / "rootCA.key") == 0o600
    assert not list(poc.prod_dir.rglob("rootCA.key"))
    ca = CertificateAuthority.load(poc.ca_dir)
    for kit_dir in (poc.server_kit, poc.admin_kit, *poc.site_kits.values()):
        kit = load_kit(kit_dir)
        assert kit.ca.read_bytes() == ca.cert_pem
        x509.load_pem_x509_certificate(kit.cert.read_bytes()).verify_directly_issued_by(ca.cert)


def test_picked_port_is_usable(poc: PocLayout) -> None:
    assert 1 <= poc.port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", poc.port))


def test_poc_json_round_trip(poc: PocLayout) -> None:
    assert load_poc(poc.workspace) == poc


def test_poc_json_survives_moving_the_workspace(poc: PocLayout, tmp_path: Path) -> None:
    moved = poc.workspace.rename(tmp_path / "moved")
    layout = load_poc(moved)
    assert layout.server_kit == moved / "example_project" / "prod_00" / "server"
    assert load_kit(layout.site_kits["site-2"]).config.name == "site-2"


def test_options(tmp_path: Path) -> None:
    layout = prepare_poc(
        tmp_path, 3, project="cancer", host="fl.example.org", port=9443, admin="boss@x.org"
    )
    assert layout.project_dir == tmp_path / "cancer"
    assert list(layout.site_kits) == ["site-1", "site-2", "site-3"]
    assert layout.admin_kit.name == "boss@x.org"
    assert layout.port == 9443
    server = load_kit(layout.server_kit)
    assert server.server_url == "https://fl.example.org:9443"
    cert = x509.load_pem_x509_certificate(server.cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"localhost", "fl.example.org"}


def test_refuses_an_existing_workspace(poc: PocLayout) -> None:
    before = (poc.ca_dir / "rootCA.pem").read_bytes()
    with pytest.raises(InvalidRequest, match="already exists") as info:
        prepare_poc(poc.workspace, 2)
    assert "force" in info.value.hint
    assert (poc.ca_dir / "rootCA.pem").read_bytes() == before  # untouched


def test_refuses_when_only_the_project_folder_exists(tmp_path: Path) -> None:
    (tmp_path / "example_project").mkdir()
    with pytest.raises(InvalidRequest):
        prepare_poc(tmp_path, 1)


def test_force_replaces_the_workspace(poc: PocLayout) -> None:
    stale = poc.workspace / "server-workspace" / "old.db"
    stale.parent.mkdir()
    stale.write_text("old run")
    before = (poc.ca_dir / "rootCA.pem").read_bytes()
    layout = prepare_poc(poc.workspace, 1, force=True)
    assert (layout.ca_dir / "rootCA.pem").read_bytes() != before  # a new CA
    assert list(layout.site_kits) == ["site-1"]
    assert not (poc.prod_dir / "site-2").exists()
    assert not stale.exists()
    assert load_poc(poc.workspace) == layout


def test_force_on_a_non_poc_folder_keeps_unrelated_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "example_project").mkdir()
    prepare_poc(tmp_path, 1, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_existing_empty_folder_is_fine(tmp_path: Path) -> None:
    layout = prepare_poc(tmp_path, 1)
    assert layout.workspace == tmp_path


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_sites": 0},
        {"n_sites": 1, "project": "../up"},
        {"n_sites": 1, "admin": "bad name"},
        {"n_sites": 1, "host": "bad host!"},
        {"n_sites": 1, "host": ""},
        {"n_sites": 1, "port": 70000},
    ],
)
def test_bad_arguments_write_nothing(tmp_path: Path, kwargs: dict[str, object]) -> None:
    ws = tmp_path / "ws"
    with pytest.raises(InvalidRequest) as info:
        prepare_poc(ws, **kwargs)  # type: ignore[arg-type]
    assert info.value.hint
    assert not ws.exists()


def test_workspace_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidRequest, match="not a folder"):
        prepare_poc(tmp_path / "file", 1)


def test_load_poc_without_poc_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match=r"poc\.json") as info:
        load_poc(tmp_path)
    assert info.value.hint


def test_load_poc_with_broken_poc_json(poc: PocLayout) -> None:
    (poc.workspace / "poc.json").write_text("{}")
    with pytest.raises(InvalidRequest, match=r"poc\.json"):
        load_poc(poc.workspace)


def test_preparation_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    prepare_poc(tmp_path, 3)
    assert time.perf_counter() - start < 1.0


@pytest.mark.integration
def test_start_poc_passes_server_args(
    poc: PocLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``start_poc(server_args=...)`` reaches ``cohort server start``: here the REST listener."""
    import ssl

    import httpx

    from cohort.provision import free_port
    from cohort.provision.processes import start_poc, stop_poc

    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    port = free_port()
    start_poc(poc, timeout=120, server_args=["--rest-port", str(port)])
    try:
        context = ssl.create_default_context(cafile=str(load_kit(poc.admin_kit).ca))
        with httpx.Client(verify=context, timeout=30) as http:
            reply = http.get(f"https://127.0.0.1:{port}/api/v1/health")
        assert reply.status_code == 200, reply.text
    finally:
        stop_poc(poc)
