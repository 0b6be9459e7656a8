"""Refusals of the edge API on the real listener: no or bad key (401), a role that may not
write (403), bad input (400 INVALID_REQUEST) and unknown ids (404), all in the error envelope."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from tests.edge.conftest import EdgeFederation
from tests.rest.conftest import error_code

pytestmark = pytest.mark.xdist_group("edge")


def call(
    edge: EdgeFederation, method: str, path: str, key: str | None, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    context = ssl.create_default_context(cafile=str(edge.rest.ca))
    with httpx.Client(verify=context, timeout=60) as http:
        url = f"https://{edge.host}:{edge.port}{path}"
        return http.request(method, url, headers=headers, **kw)


@pytest.mark.parametrize(
    "path", ["/api/v1/clients/", "/api/v1/models/count", "/get_controller_status"]
)
def test_no_key_or_a_bad_key_is_401(edge: EdgeFederation, path: str) -> None:
    for key in (None, "cohort_0000_bad"):
        response = call(edge, "GET", path, key)
        assert response.status_code == 401
        assert error_code(response) == "UNAUTHORIZED"


def test_refresh_refuses_a_bad_key(edge: EdgeFederation) -> None:
    response = call(edge, "POST", "/api/auth/refresh", None, json={"refresh_token": "nope"})
    assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"
    good = call(
        edge, "POST", "/api/auth/refresh", None, json={"refresh_token": edge.rest.admin_key}
    )
    assert good.status_code == 200 and good.json()["access_token"] == edge.rest.admin_key


def test_a_client_key_reads_but_may_not_start_sessions(edge: EdgeFederation) -> None:
    key = edge.rest.client_key
    assert call(edge, "GET", "/api/v1/sessions/count", key).status_code == 200
    response = call(edge, "POST", "/api/v1/sessions/", key, json={"name": "nope"})
    assert response.status_code == 403 and error_code(response) == "FORBIDDEN"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/sessions/", {"session_config": {"rounds": 0}}),
        ("/api/v1/sessions/", {"session_config": {"aggregator": "nope"}}),
        ("/api/v1/sessions/", {"session_config": {"dataset": "mnist"}}),
        ("/api/v1/sessions/", {"session_config": {"server_functions": "import os"}}),
        ("/api/v1/sessions/", {"session_config": {"helper_type": "pytorchhelper"}}),
        ("/api/v1/sessions/", {"session_config": {"aggregator_kwargs": {"x": 1}}}),
        ("/api/v1/sessions/", {"session_config": {"client_attributes": {"gpu": "h100"}}}),
        ("/api/v1/attributes/", {"key": "k", "value": "v"}),
        ("/api/v1/attributes/current", {"node_ids": []}),
        ("/api/v1/statuses/", {"type": "X"}),
        ("/api/v1/file-upload/init", {"file_name": "a", "file_size": -1, "chunk_size": 1}),
        ("/api/v1/control/start_inference", {"client_ids": ["no-such-site"]}),
        ("/api/v1/control/continue", None),
    ],
)
def test_bad_input_is_400(edge: EdgeFederation, path: str, body: dict[str, Any]) -> None:
    response = call(edge, "POST", path, edge.rest.admin_key, json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == "INVALID_REQUEST"


def test_a_bad_upload_is_400(edge: EdgeFederation) -> None:
    key = edge.rest.admin_key
    init = {"file_name": "m.npz", "file_size": 5, "chunk_size": 5}
    upload = call(edge, "POST", "/api/v1/file-upload/init", key, json=init).json()["upload_id"]
    headers = {"Authorization": f"Bearer {key}", "X-Chunk-Index": "0"}
    context = ssl.create_default_context(cafile=str(edge.rest.ca))
    with httpx.Client(verify=context) as http:
        url = f"https://{edge.host}:{edge.port}/api/v1/file-upload/{upload}/chunk"
        assert http.post(url, headers=headers, content=b"hello").status_code == 200
    token = call(edge, "POST", f"/api/v1/file-upload/{upload}/complete", key).json()["file_token"]
    response = call(edge, "POST", "/api/v1/models/", key, data={"file_token": token})
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"
    assert "npz" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/clients/no-such-site", None),
        ("GET", "/api/v1/combiners/elsewhere", None),
        ("GET", "/api/v1/models/model_nope_round_1", None),
        ("GET", "/api/v1/models/nope/ancestors", None),
        ("GET", "/api/v1/models/nope/download", None),
        ("GET", "/api/v1/packages/nope", None),
        ("GET", "/api/v1/rounds/nope:1", None),
        ("GET", "/api/v1/sessions/nope", None),
        ("GET", "/api/v1/statuses/nope", None),
        ("GET", "/api/v1/validations/nope", None),
        ("GET", "/api/v1/models/?session_id=nope", None),
        ("POST", "/api/v1/sessions/start", {"session_id": "nope"}),
        ("POST", "/api/v1/sessions/", {"seed_model_id": "nope"}),
        ("POST", "/api/v1/predictions/start", {"model_id": "nope"}),
        ("POST", "/api/v1/file-upload/abc/complete", None),
        ("POST", "/api/v1/validations/start", {"session_id": "nope", "model_id": "x"}),
        ("POST", "/api/v1/models/nope/stage", {"client_ids": None}),
        ("POST", "/api/v1/commands/nope/stop", None),
        ("POST", "/api/v1/commands/nope/skip", None),
    ],
)
def test_unknown_ids_are_404(
    edge: EdgeFederation, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = call(edge, method, path, edge.rest.admin_key, json=body)
    assert response.status_code == 404, response.text
    assert error_code(response) == "NOT_FOUND"


def test_server_functions_are_refused_with_the_reason(edge: EdgeFederation) -> None:
    body = {"session_config": {"server_functions": "class ServerFunctions: ..."}}
    response = call(edge, "POST", "/api/v1/sessions/", edge.rest.admin_key, json=body)
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"
    assert "caller's code in the server" in response.json()["error"]["message"]


def test_staging_a_model_is_refused_with_the_reason(edge: EdgeFederation) -> None:
    model = f"model_{edge.session_id}_round_1"
    response = call(edge, "POST", f"/api/v1/models/{model}/stage", edge.rest.admin_key, json={})
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"
    assert "not staged" in response.json()["error"]["message"]
    body = {"session_id": edge.session_id, "model_id": "model_nope_round_1"}
    response = call(edge, "POST", "/api/v1/validations/start", edge.rest.admin_key, json=body)
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_the_rest_port_keeps_its_own_shapes(
    edge: EdgeFederation,
) -> None:
    # REST v1 keeps its own shapes on its own port: /clients there is seed 003's list.
    rest = edge.rest.raw("GET", "/clients")
    assert rest.status_code == 200 and "clients" in rest.json()
    edge_clients = call(edge, "GET", "/api/v1/clients", edge.rest.admin_key).json()
    assert set(edge_clients) == {"count", "result"}
