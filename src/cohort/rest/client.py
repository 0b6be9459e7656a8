"""FLClient: seed 003's Python client, every method, over httpx; plus the rest of the API.

Unlike the seed's sketch, a refused call raises the :class:`cohort.errors.CohortError` its
error envelope names (``exc.code`` is e.g. ``RATE_LIMITED``) instead of returning the envelope
as if it were data. The rate-limit headers of the last response are in ``last_rate_limit``.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np
from websockets.sync.client import connect

from cohort.errors import InvalidRequest
from cohort.httpclient import check_response, connection_error
from cohort.wire.payload import PayloadHeader, encode_payload

__all__ = ["FLClient"]

ModelFile = bytes | str | Path | IO[bytes] | Mapping[str, Any]


class FLClient:
    """A client of ``<server_url>/api/v1``.

    Args:
        server_url: ``https://host:port`` of the server's REST listener.
        api_key: a key from ``cohort token create`` (sent as ``Authorization: Bearer``).
        verify: how to check the server's certificate: the project's root CA file (``rootCA.pem``
            of any startup kit), an ``ssl.SSLContext``, or True for the system store.
        timeout: seconds per request.
    """

    def __init__(
        self,
        server_url: str = "http://localhost:8080",
        api_key: str | None = None,
        *,
        verify: str | Path | bool | ssl.SSLContext = True,
        timeout: float = 30.0,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.base_url = f"{self.server_url}/api/v1"
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if isinstance(verify, str | Path):
            verify = ssl.create_default_context(cafile=str(verify))
        self._verify = verify
        self.http = httpx.Client(
            base_url=self.base_url, headers=self.headers, verify=verify, timeout=timeout
        )
        self.last_rate_limit: dict[str, str] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> FLClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise connection_error(self.server_url, exc) from exc
        self.last_rate_limit = {
            k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit-")
        }
        return check_response(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(method, path, **kwargs).json()
        return result

    @staticmethod
    def _params(**values: Any) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}

    # -- the seed's Python client -----------------------------------------------------------
    def register_client(
        self,
        client_id: str,
        config: Mapping[str, Any],
        capabilities: Mapping[str, Any] | None = None,
        location: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a new FL client."""
        payload = {
            "client_id": client_id,
            "client_config": dict(config),
            "capabilities": dict(capabilities or {}),
            "location": dict(location or {}),
        }
        return self._json("POST", "/clients/register", json=payload)

    def get_training_status(self) -> dict[str, Any]:
        """Get current training status."""
        return self._json("GET", "/training/status")

    def upload_model_update(
        self, client_id: str, model_file: ModelFile, metrics: Mapping[str, float]
    ) -> dict[str, Any]:
        """Upload a model update after local training.

        ``model_file`` is a Cohort update payload (bytes, a path or an open file), or a dict
        of numpy arrays, which is encoded here with ``metrics`` in its header and
        ``metrics["data_samples"]`` as its aggregation weight.
        """
        content = _payload(model_file, metrics)
        files = {"model_file": ("update.safetensors", content, "application/octet-stream")}
        data = {"metrics": json.dumps(dict(metrics))}
        return self._json("POST", f"/model/update/{client_id}", files=files, data=data)

    # -- the seed's JavaScript client, in Python --------------------------------------------
    def get_server_status(self) -> dict[str, Any]:
        """GET /status."""
        return self._json("GET", "/status")

    def start_training(self, experiment_config: Mapping[str, Any]) -> dict[str, Any]:
        """POST /training/start with the whole request body (``experiment_config``,
        ``training_config``, ``aggregation_config``)."""
        return self._json("POST", "/training/start", json=dict(experiment_config))

    def get_training_metrics(
        self,
        experiment_id: str | None = None,
        from_round: int | None = None,
        to_round: int | None = None,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """GET /metrics/training with its filters."""
        params = self._params(
            experiment_id=experiment_id, from_round=from_round, to_round=to_round,
            client_id=client_id,
        )  # fmt: skip
        return self._json("GET", "/metrics/training", params=params)

    @contextmanager
    def connect_websocket(
        self, experiment_id: str | None = None, timeout: float = 30.0
    ) -> Iterator[Iterator[dict[str, Any]]]:
        """Open /ws/events; yields an iterator of events (dicts). Use as a context manager."""
        url = self.server_url.replace("https://", "wss://").replace("http://", "ws://")
        url += "/ws/events" + (f"?experiment_id={experiment_id}" if experiment_id else "")
        context = None
        if url.startswith("wss://"):
            context = (
                self._verify
                if isinstance(self._verify, ssl.SSLContext)
                else ssl.create_default_context()
            )
            if self._verify is False:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with connect(url, additional_headers=self.headers, ssl=context, open_timeout=timeout) as ws:

            def events() -> Iterator[dict[str, Any]]:
                while True:
                    event: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
                    yield event

            yield events()

    # -- everything else of /api/v1 ---------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """GET /health (needs no key)."""
        return self._json("GET", "/health")

    def get_client(self, client_id: str) -> dict[str, Any]:
        """GET /clients/{client_id}."""
        return self._json("GET", f"/clients/{client_id}")

    def list_clients(self, status: str | None = None, round: int | None = None) -> dict[str, Any]:
        """GET /clients with its filters."""
        return self._json("GET", "/clients", params=self._params(status=status, round=round))

    def select_clients(self, round: int | None = None, policy_check: bool = True) -> dict[str, Any]:
        """GET /clients/select."""
        params = self._params(round=round, policy_check=str(policy_check).lower())
        return self._json("GET", "/clients/select", params=params)

    def stop_training(
        self, experiment_id: str | None = None, reason: str = "manual_stop"
    ) -> dict[str, Any]:
        """POST /training/stop."""
        body = self._params(experiment_id=experiment_id, reason=reason)
        return self._json("POST", "/training/stop", json=body)

    def get_global_model(
        self, round: int | None = None, format: str | None = None, experiment_id: str | None = None
    ) -> dict[str, Any]:
        """GET /model/global."""
        params = self._params(round=round, format=format, experiment_id=experiment_id)
        return self._json("GET", "/model/global", params=params)

    def download_model(self, model_id: str, destination: str | Path | None = None) -> bytes:
        """GET /model/download/{model_id}: the file's bytes (also written to ``destination``)."""
        data = self._call("GET", f"/model/download/{model_id}").content
        if destination is not None:
            Path(destination).write_bytes(data)
        return data

    def validate_model(
        self, client_id: str, model_file: ModelFile, experiment_id: str | None = None
    ) -> dict[str, Any]:
        """POST /model/validate/{client_id}: check an update without sending it."""
        content = _payload(model_file, {})
        files = {"model_file": ("update.safetensors", content, "application/octet-stream")}
        params = self._params(experiment_id=experiment_id)
        return self._json("POST", f"/model/validate/{client_id}", files=files, params=params)

    def get_client_metrics(self, client_id: str) -> dict[str, Any]:
        """GET /metrics/clients/{client_id}."""
        return self._json("GET", f"/metrics/clients/{client_id}")

    def create_experiment(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """POST /experiments."""
        return self._json("POST", "/experiments", json=dict(config))

    def list_experiments(
        self, status: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> dict[str, Any]:
        """GET /experiments."""
        params = self._params(status=status, limit=limit, offset=offset)
        return self._json("GET", "/experiments", params=params)


def _payload(model_file: ModelFile, metrics: Mapping[str, float]) -> bytes:
    """The bytes to upload: as given, or a dict of arrays encoded as a Cohort update."""
    if isinstance(model_file, bytes):
        return model_file
    if isinstance(model_file, str | Path):
        return Path(model_file).read_bytes()
    if isinstance(model_file, Mapping):
        numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
        samples = int(metrics.get("data_samples", 1))
        header = PayloadHeader(kind="update", num_samples=samples, metrics=numbers)
        return encode_payload({k: np.asarray(v) for k, v in model_file.items()}, header)
    if hasattr(model_file, "read"):
        return model_file.read()
    raise InvalidRequest(f"cannot upload a {type(model_file).__name__} as a model file")
