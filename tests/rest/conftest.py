"""A real federation with the REST listener on, shared by a test module, and helpers."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cohort.provision import free_port
from cohort.provision.kit import load_kit
from cohort.rest import FLClient
from tests.integration.federation import Federation


@dataclass
class RestFederation:
    """The federation, its REST URL, the CA to trust, and keys of two roles."""

    fed: Federation
    url: str
    ca: Path
    admin_key: str
    client_key: str

    def client(self, key: str | None = None) -> FLClient:
        """An FLClient with the admin key (or ``key``)."""
        return FLClient(self.url, api_key=key or self.admin_key, verify=self.ca)

    def raw(
        self, method: str, path: str, key: str | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        """One request to ``/api/v1<path>``; ``key`` "admin", "client", None or a literal key."""
        headers = dict(kwargs.pop("headers", {}))
        chosen = {"admin": self.admin_key, "client": self.client_key}.get(key or "", key)
        if chosen:
            headers["Authorization"] = f"Bearer {chosen}"
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(self.ca)), timeout=60
        ) as http:
            return http.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)


def start_rest_federation(
    tmp: Path,
    n_sites: int,
    server_args: list[str],
    start_sites: bool = True,
    start_timeout: float = 30.0,
) -> RestFederation:
    """Start server (with a REST port) and sites; make an admin key and a client key."""
    port = free_port()
    fed = Federation(tmp, n_sites, server_args=["--rest-port", str(port), *server_args])
    try:
        if start_sites:
            fed.start(timeout=start_timeout)
        else:
            fed.start_server()
        kit = load_kit(fed.layout.admin_kit)
        admin_key = _retry(lambda: fed.api.create_token("project_admin", "tests").token)
        client_key = fed.api.create_token("client", "a training client").token
    except BaseException:
        fed.stop()
        raise
    host = kit.server_url.split("://", 1)[1].rsplit(":", 1)[0]
    return RestFederation(fed, f"https://{host}:{port}", kit.ca, admin_key, client_key)


def _retry(call: Any, timeout: float = 60.0) -> Any:
    """Call until the server answers (it may still be starting)."""
    import time

    from cohort.errors import ConnectionFailed

    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ConnectionFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def error_code(response: httpx.Response) -> str:
    """The ``error.code`` of an error envelope (failing the test if it is not one)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details", "timestamp"} <= set(body["error"]), body
    return str(body["error"]["code"])


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestFederation]:
    """Three sites and a server with the REST listener, for one test module."""
    tmp = tmp_path_factory.mktemp("rest")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_HOME", str(tmp / "home"))
        started = start_rest_federation(tmp, 3, [])
        try:
            yield started
        finally:
            started.fed.stop()
