"""Rate limits per API key on a real server: the X-RateLimit headers, 429 RATE_LIMITED, and
one WebSocket per key. The limits are set small on the command line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import InvalidStatus

from cohort.errors import CohortError, ErrorCode
from tests.rest.conftest import RestFederation, error_code, start_rest_federation

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("rest-limits")]

LIMITS = [
    "--rate-limit", "general=5/60",
    "--rate-limit", "upload=2/60",
    "--rate-limit", "training_start=1/3600",
    "--rate-limit", "websocket_connections=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestFederation]:
    """A server with small limits and no site connected (it never runs a job)."""
    tmp: Path = tmp_path_factory.mktemp("limits")
    started = start_rest_federation(tmp, 1, LIMITS, start_sites=False)
    try:
        yield started
    finally:
        started.fed.stop()


def new_key(rest: RestFederation) -> str:
    return rest.fed.api.create_token("lead", "limits").token


def test_general_limit_counts_down_then_429_per_key(limited: RestFederation) -> None:
    key = new_key(limited)
    remaining = []
    for _ in range(5):
        response = limited.raw("GET", "/status", key=key)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        reset = int(response.headers["X-RateLimit-Reset"])
        assert time.time() - 1 <= reset <= time.time() + 61
    assert remaining == [4, 3, 2, 1, 0]
    refused = limited.raw("GET", "/status", key=key)
    assert refused.status_code == 429 and error_code(refused) == "RATE_LIMITED"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.json()["error"]["details"]["limit"] == "general"
    # Errors count and carry the headers too; another key has its own window.
    other = new_key(limited)
    response = limited.raw("GET", "/clients/nobody", key=other)
    assert response.status_code == 404 and response.headers["X-RateLimit-Remaining"] == "4"


def test_upload_and_training_start_limits(limited: RestFederation) -> None:
    key = new_key(limited)
    files = {"model_file": ("u.safetensors", b"x", "application/octet-stream")}
    for left in ("1", "0"):
        response = limited.raw("POST", "/model/update/nobody", key=key, files=files)
        assert response.status_code == 404  # counted, then refused: not registered
        assert response.headers["X-RateLimit-Limit"] == "2"
        assert response.headers["X-RateLimit-Remaining"] == left
    response = limited.raw("POST", "/model/update/nobody", key=key, files=files)
    assert response.status_code == 429 and response.json()["error"]["details"]["limit"] == "upload"

    starter = new_key(limited)
    client = limited.client(starter)
    with pytest.raises(CohortError) as info:  # no site is connected
        client.start_training({"experiment_config": {"rounds": 1}})
    assert info.value.code == ErrorCode.INSUFFICIENT_CLIENTS
    assert client.last_rate_limit["x-ratelimit-limit"] == "1"
    with pytest.raises(CohortError) as info:
        client.start_training({"experiment_config": {"rounds": 1}})
    assert info.value.code == ErrorCode.RATE_LIMITED


def test_one_websocket_per_key(limited: RestFederation) -> None:
    key = new_key(limited)
    client = limited.client(key)
    with client.connect_websocket(timeout=30):
        with pytest.raises(InvalidStatus) as info, client.connect_websocket(timeout=30):
            pass
        assert info.value.response.status_code == 403
        with limited.client(new_key(limited)).connect_websocket(timeout=30):
            pass  # another key may connect
    deadline = time.monotonic() + 30
    while True:  # the server sees the close asynchronously
        try:
            with client.connect_websocket(timeout=30):
                break
        except InvalidStatus:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    nobody = limited.client("cohort_nope_nope")
    with pytest.raises(InvalidStatus), nobody.connect_websocket(timeout=30):  # a bad key
        pass


def test_fl_codes_without_any_experiment(limited: RestFederation) -> None:
    client = limited.client(new_key(limited))
    assert client.get_training_status()["status"] == "idle"
    assert client.get_server_status()["status"] == "idle"
    client.register_client("client-001", {"batch_size": 32}, {"memory": "8GB"}, {"region": "eu"})
    client = limited.client(new_key(limited))  # 5 calls per key per minute here
    with pytest.raises(CohortError) as info:
        client.upload_model_update("client-001", {"w": np.zeros(3)}, {"data_samples": 10})
    assert info.value.code == ErrorCode.EXPERIMENT_NOT_ACTIVE
    with pytest.raises(CohortError) as info:
        client.upload_model_update("client-404", {"w": np.zeros(3)}, {"data_samples": 10})
    assert info.value.code == ErrorCode.CLIENT_NOT_REGISTERED
    with pytest.raises(CohortError) as info:
        client.stop_training()
    assert info.value.code == ErrorCode.EXPERIMENT_NOT_ACTIVE
    with pytest.raises(CohortError) as info:
        client.get_global_model()
    assert info.value.code == ErrorCode.EXPERIMENT_NOT_ACTIVE
