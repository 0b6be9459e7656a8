"""Mutual TLS end to end: a real uvicorn server with IdentityH11Protocol and httpx clients."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from cohort.errors import InvalidRequest
from cohort.provision import Kit, PocLayout, free_port, load_kit, prepare_poc
from cohort.tls import (
    Identity,
    IdentityH11Protocol,
    IdentityHttpToolsProtocol,
    client_ssl_context,
    identity_from_peercert,
    peer_identity,
    server_ssl_kwargs,
)

# ---------------------------------------------------------------- unit: peer certificate parsing


def _peercert(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"subject": tuple(((k, v),) for k, v in pairs), "issuer": ()}


def test_identity_from_peercert() -> None:
    cert = _peercert(
        ("commonName", "site-1"), ("organizationName", "org"), ("organizationalUnitName", "site")
    )
    assert identity_from_peercert(cert) == Identity(name="site-1", org="org", role="site")


def test_identity_from_multi_valued_rdn() -> None:
    cert = {
        "subject": (
            (("commonName", "a"), ("organizationName", "o")),
            (("organizationalUnitName", "lead"),),
        )
    }
    assert identity_from_peercert(cert) == Identity("a", "o", "lead")


@pytest.mark.parametrize(
    "cert",
    [
        None,
        {},
        _peercert(("organizationName", "o"), ("organizationalUnitName", "site")),
        _peercert(("commonName", "a"), ("organizationalUnitName", "site")),
        _peercert(("commonName", "a"), ("organizationName", "o")),
        _peercert(("commonName", "a"), ("organizationName", "o"), ("organizationalUnitName", "x")),
    ],
)
def test_incomplete_subjects_are_anonymous(cert: dict[str, Any] | None) -> None:
    assert identity_from_peercert(cert) is None


def test_peer_identity_reads_request_state() -> None:
    ident = Identity("a", "o", "site")
    assert peer_identity(SimpleNamespace(state=SimpleNamespace(peer_identity=ident))) == ident  # type: ignore[arg-type]
    assert peer_identity(SimpleNamespace(state=SimpleNamespace())) is None  # type: ignore[arg-type]
    assert peer_identity(SimpleNamespace(state=SimpleNamespace(peer_identity="forged"))) is None  # type: ignore[arg-type]


# ------------------------------------------------------------------ unit: SSL settings


@pytest.fixture(scope="module")
def poc(tmp_path_factory: pytest.TempPathFactory) -> PocLayout:
    return prepare_poc(tmp_path_factory.mktemp("poc"), 2)


@pytest.fixture(scope="module")
def other_poc(tmp_path_factory: pytest.TempPathFactory) -> PocLayout:
    """A second project: its CA is a stranger to the first one."""
    return prepare_poc(tmp_path_factory.mktemp("other"), 1)


def test_server_ssl_kwargs(poc: PocLayout) -> None:
    kit = load_kit(poc.server_kit)
    assert server_ssl_kwargs(kit) == {
        "ssl_certfile": str(kit.cert),
        "ssl_keyfile": str(kit.key),
        "ssl_ca_certs": str(kit.ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }


def test_server_ssl_kwargs_needs_a_server_kit(poc: PocLayout) -> None:
    with pytest.raises(InvalidRequest, match="not a server kit"):
        server_ssl_kwargs(load_kit(poc.site_kits["site-1"]))


def test_client_context_settings(poc: PocLayout) -> None:
    ctx = client_ssl_context(load_kit(poc.site_kits["site-1"]))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    # trusts the project CA only, not the system store
    assert [c["subject"] for c in ctx.get_ca_certs()] == [
        ((("commonName", "example_project Root CA"),), (("organizationName", "example_project"),))
    ]


def test_client_context_with_mismatched_key(poc: PocLayout, tmp_path: Path) -> None:
    kit = load_kit(poc.site_kits["site-1"])
    other_key = load_kit(poc.site_kits["site-2"]).key
    broken = Kit(kit.config, kit.dir, kit.cert, other_key, kit.ca)
    with pytest.raises(InvalidRequest, match="cannot load"):
        client_ssl_context(broken)


# ------------------------------------------------------------------ real mutual TLS


def _app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"marker": "from-lifespan"}

    app = FastAPI(lifespan=lifespan)

    @app.get("/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        ident = peer_identity(request)
        return {
            "identity": None if ident is None else vars(ident),
            "marker": getattr(request.state, "marker", None),
        }

    return app


@contextmanager
def _serve(config: uvicorn.Config) -> Iterator[str]:
    """Run uvicorn in a background thread; yield its base URL; stop it on exit."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn died during startup"
            assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
            time.sleep(0.01)
        yield f"https://{config.host}:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module", params=[IdentityH11Protocol, IdentityHttpToolsProtocol])
def server_url(poc: PocLayout, request: pytest.FixtureRequest) -> Iterator[str]:
    """Serve the test app over mutual TLS with the POC's server kit, with each identity
    protocol (the server runs the httptools one); yield its base URL."""
    config = uvicorn.Config(
        _app(),
        host="127.0.0.1",
        port=free_port(),
        http=request.param,
        log_level="warning",
        **server_ssl_kwargs(load_kit(poc.server_kit)),
    )
    with _serve(config) as url:
        yield url


def _get(url: str, verify: ssl.SSLContext) -> httpx.Response:
    with httpx.Client(verify=verify, timeout=5) as client:
        return client.get(f"{url}/whoami")


@pytest.mark.parametrize(
    ("kit_name", "expected"),
    [
        ("site-1", {"name": "site-1", "org": "cohort", "role": "site"}),
        ("site-2", {"name": "site-2", "org": "cohort", "role": "site"}),
        ("admin", {"name": "admin@cohort.local", "org": "cohort", "role": "project_admin"}),
    ],
)
def test_client_sees_its_own_identity(
    poc: PocLayout, server_url: str, kit_name: str, expected: dict[str, str]
) -> None:
    path = poc.admin_kit if kit_name == "admin" else poc.site_kits[kit_name]
    response = _get(server_url, client_ssl_context(load_kit(path)))
    assert response.status_code == 200
    # the lifespan state still reaches handlers next to the identity
    assert response.json() == {"identity": expected, "marker": "from-lifespan"}


def test_identity_is_per_connection(poc: PocLayout, server_url: str) -> None:
    clients = [
        httpx.Client(verify=client_ssl_context(load_kit(poc.site_kits[name])), timeout=5)
        for name in ("site-1", "site-2")
    ]
    try:
        # interleave requests on two kept-alive connections
        for _ in range(3):
            for client, name in zip(clients, ("site-1", "site-2"), strict=True):
                body = client.get(f"{server_url}/whoami").json()
                assert body["identity"]["name"] == name
    finally:
        for client in clients:
            client.close()


def test_kit_server_url_works_with_the_server_certificate(poc: PocLayout, server_url: str) -> None:
    kit = load_kit(poc.site_kits["site-1"])
    port = server_url.rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost"):  # both are in the server certificate's SANs
        response = _get(f"https://{host}:{port}", client_ssl_context(kit))
        assert response.json()["identity"]["name"] == "site-1"


@pytest.fixture(params=["tls1.2", "tls1.3"])
def tls_max(request: pytest.FixtureRequest) -> ssl.TLSVersion:
    """Refusals are checked under both TLS versions: they surface differently."""
    return ssl.TLSVersion.TLSv1_2 if request.param == "tls1.2" else ssl.TLSVersion.TLSv1_3


def _assert_refused(poc: PocLayout, url: str, ctx: ssl.SSLContext, tls_max: ssl.TLSVersion) -> None:
    ctx.maximum_version = tls_max
    if tls_max == ssl.TLSVersion.TLSv1_2:
        # TLS 1.2: the server checks the client certificate inside the handshake.
        with pytest.raises(httpx.ConnectError):
            _get(url, ctx)
    else:
        # TLS 1.3: the client finishes its side of the handshake before the server checks the
        # client certificate, so the refusal surfaces on the first read instead of on connect.
        with pytest.raises((httpx.TransportError, ssl.SSLError)):
            _get(url, ctx)
    # the refusal hurt nobody else: a proper client is still served
    good = client_ssl_context(load_kit(poc.site_kits["site-1"]))
    assert _get(url, good).json()["identity"]["name"] == "site-1"


def test_client_without_certificate_is_refused(
    poc: PocLayout, server_url: str, tls_max: ssl.TLSVersion
) -> None:
    kit = load_kit(poc.site_kits["site-1"])
    ctx = ssl.create_default_context(cafile=str(kit.ca))  # trusts the server, presents nothing
    _assert_refused(poc, server_url, ctx, tls_max)


def test_client_with_certificate_from_another_ca_is_refused(
    poc: PocLayout, other_poc: PocLayout, server_url: str, tls_max: ssl.TLSVersion
) -> None:
    stranger = load_kit(other_poc.site_kits["site-1"])
    ctx = ssl.create_default_context(cafile=str(load_kit(poc.server_kit).ca))
    ctx.load_cert_chain(str(stranger.cert), str(stranger.key))
    _assert_refused(poc, server_url, ctx, tls_max)


def test_server_kit_can_call_its_own_server(poc: PocLayout, server_url: str) -> None:
    # how the server's job processes call back into its API
    response = _get(server_url, client_ssl_context(load_kit(poc.server_kit)))
    assert response.json()["identity"] == {"name": "server", "org": "cohort", "role": "server"}


def test_site_certificate_cannot_pose_as_the_server(poc: PocLayout) -> None:
    """A site's key and certificate served as a server are refused by a site client."""
    site = load_kit(poc.site_kits["site-1"])
    port = free_port()
    config = uvicorn.Config(
        _app(),
        host="127.0.0.1",
        port=port,
        http=IdentityH11Protocol,
        log_level="critical",
        ssl_certfile=str(site.cert),
        ssl_keyfile=str(site.key),
        ssl_ca_certs=str(site.ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    )
    with _serve(config) as url:
        ctx = client_ssl_context(load_kit(poc.site_kits["site-2"]))
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            _get(url, ctx)


def test_client_that_does_not_trust_the_server_ca_fails(
    other_poc: PocLayout, server_url: str
) -> None:
    ctx = client_ssl_context(load_kit(other_poc.site_kits["site-1"]))
    with pytest.raises(httpx.ConnectError) as info:
        _get(server_url, ctx)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_wrong_hostname_fails_verification(poc: PocLayout, server_url: str) -> None:
    ctx = client_ssl_context(load_kit(poc.site_kits["site-1"]))
    # Same listener, but the client checks the certificate against a name it does not carry.
    with (
        httpx.Client(verify=ctx, timeout=5) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(f"{server_url}/whoami", extensions={"sni_hostname": "evil.example.org"})
