"""Scaleout: seed 004's API client, every method it lists, over httpx.

It speaks the same REST dialect as the published ``scaleout`` client (see docs/edge.md), so
either works against Cohort's edge listener. Unlike the published client, a refused call
raises the :class:`cohort.errors.CohortError` its error envelope names instead of returning
the envelope as if it were data.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cohort.httpclient import check_response, connection_error

__all__ = ["Scaleout"]

Json = Any
DEFAULT_PORT = 8092
CHUNK = 900 * 1024


class Scaleout:
    """A client of a Cohort server's edge API.

    Args:
        host: host name, or a URL (``https://host:port``) whose scheme and port are used.
        port: the edge port (default 8092).
        secure: https (default: True, Cohort's edge listener speaks TLS).
        verify: check the server's certificate: True (system store), False, or the
            project's root CA file (``rootCA.pem`` of any startup kit).
        token: an API key (``cohort token create``); default ``SCALEOUT_AUTH_TOKEN``.
        auth_scheme: the Authorization scheme (default ``Bearer``).
        token_endpoint: unused (Cohort keys need no refresh); kept for the seed's signature.
        access_token_provider: called before each request for the key to send (wins over
            ``token``).
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        secure: bool | None = None,
        verify: bool | str | Path = True,
        token: str | None = None,
        auth_scheme: str | None = None,
        token_endpoint: str | None = None,
        access_token_provider: Callable[[], str | None] | None = None,
    ) -> None:
        url = httpx.URL(host if "://" in host else f"//{host}")
        if url.scheme in ("http", "https"):
            secure = url.scheme == "https"
        self.secure = True if secure is None else secure
        self.host = url.host or host
        self.port = port or url.port or DEFAULT_PORT
        scheme = "https" if self.secure else "http"
        self.base_url = f"{scheme}://{self.host}:{self.port}"
        self.token = token or os.environ.get("SCALEOUT_AUTH_TOKEN")
        self.auth_scheme = auth_scheme or "Bearer"
        self.token_endpoint = token_endpoint
        self.access_token_provider = access_token_provider
        checker: bool | ssl.SSLContext = (
            ssl.create_default_context(cafile=str(verify))
            if isinstance(verify, str | Path)
            else verify
        )
        self.http = httpx.Client(base_url=self.base_url, verify=checker, timeout=60.0)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Scaleout:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transport --------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        key = self.access_token_provider() if self.access_token_provider else self.token
        headers = {"Authorization": f"{self.auth_scheme} {key}"} if key else {}
        return {**headers, **(extra or {})}

    def _call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self.http.request(method, path, headers=self._headers(headers), **kwargs)
        except httpx.TransportError as exc:
            raise connection_error(self.base_url, exc) from exc
        return check_response(response)

    def _get(self, path: str, n_max: int | None = None, **params: Any) -> Json:
        headers = {"X-Limit": str(n_max)} if n_max else None
        clean = {k.replace("__", "."): v for k, v in params.items() if v is not None}
        return self._call("GET", f"/api/v1/{path}", headers, params=clean).json()

    def _post(self, path: str, body: Json = None, **kwargs: Any) -> Json:
        return self._call("POST", f"/api/v1/{path}", json=body, **kwargs).json()

    def _upload(self, path: str | Path) -> str:
        """A chunked upload of a file; its file token."""
        source = Path(path)
        init = {"file_name": source.name, "file_size": source.stat().st_size, "chunk_size": CHUNK}
        upload_id = self._post("file-upload/init", init)["upload_id"]
        with source.open("rb") as f:
            for index, chunk in enumerate(iter(lambda: f.read(CHUNK), b"")):
                self._call(
                    "POST",
                    f"/api/v1/file-upload/{upload_id}/chunk",
                    {"X-Chunk-Index": str(index)},
                    content=chunk,
                )
        return str(self._post(f"file-upload/{upload_id}/complete")["file_token"])

    # -- clients and combiners --------------------------------------------------------------
    def get_active_clients(self, combiner_id: str | None = None, n_max: int | None = None) -> Json:
        """Connected clients (sites): ``{count, result}``."""
        return self._get("clients/", n_max, status="online", combiner=combiner_id)

    def get_client_config(self, checksum: bool = True) -> Json:
        """What a client needs to join, with the active package's checksum."""
        return self._get("clients/config", checksum=str(checksum).lower())

    def get_clients_count(self, only_active: bool = False) -> int:
        """How many clients (only the connected ones with ``only_active``)."""
        return int(self._get("clients/count", status="online" if only_active else None))

    def get_combiners_count(self) -> int:
        """How many combiners (the server is the one combiner)."""
        return int(self._get("combiners/count"))

    def get_controller_status(self) -> Json:
        """``{state: idle|instructing, session_id, connected_clients}``."""
        return self._call("GET", "/get_controller_status").json()

    # -- attributes and statuses ------------------------------------------------------------
    def add_attributes(self, attribute: dict[str, Any]) -> Json:
        """Set a node attribute: ``{key, value, entity_id}`` or with ``sender.client_id``."""
        return self._post("attributes/", attribute)

    def get_current_attributes(self, node_list: list[str] | str) -> Json:
        """node id -> key -> current value. ValueError for an empty list or a non-list."""
        if isinstance(node_list, str):
            node_list = [node_list]
        if not isinstance(node_list, list) or not node_list:
            raise ValueError("node_list must be a non-empty list or a node id")
        return self._post("attributes/current", {"node_ids": node_list})

    def get_attribute_trail(self, node_id: str) -> Json:
        """Every value ever set on a node: ``{count, result}``."""
        return self._post("attributes/list", {"entity_id": node_id})

    def add_status(self, status: dict[str, Any]) -> Json:
        """Record an event (``{type, log_level, status, sender}``)."""
        return self._post("statuses/", status)

    def get_statuses(
        self,
        session_id: str | None = None,
        event_type: str | None = None,
        sender_name: str | None = None,
        sender_role: str | None = None,
        n_max: int | None = None,
    ) -> Json:
        """Events, filtered: ``{count, result}``."""
        return self._get(
            "statuses/", n_max, session_id=session_id, type=event_type,
            sender__name=sender_name, sender__role=sender_role,
        )  # fmt: skip

    def get_statuses_count(self) -> int:
        """How many events."""
        return int(self._get("statuses/count"))

    def run_custom_command(
        self,
        command_type: str,
        blocking: bool = False,
        timeout: int | None = None,
        client_ids: list[str] | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> Json:
        """Send ``Custom_<command_type>`` to the sites (all connected, or ``client_ids``);
        with ``blocking``, wait (up to ``timeout`` seconds) for their answers."""
        if not command_type.startswith("Custom_"):
            command_type = f"Custom_{command_type}"
        body = {
            "command_type": command_type, "synchronous": blocking, "timeout": timeout,
            "client_ids": client_ids, "parameters": parameters or {},
        }  # fmt: skip
        return self._post("control/run_command", body, timeout=None if blocking else 60.0)

    # -- models and packages ----------------------------------------------------------------
    def get_active_model(self) -> Json:
        """The newest model (by ``committed_at``)."""
        headers = {"X-Limit": "1", "X-Sort-Key": "committed_at", "X-Sort-Order": "desc"}
        found = self._call("GET", "/api/v1/models/", headers).json()
        return found["result"][0] if found["result"] else found

    def get_models_count(self) -> int:
        """How many models."""
        return int(self._get("models/count"))

    def get_model_trail(
        self,
        id: str | None = None,
        include_self: bool = True,
        reverse: bool = True,
        n_max: int | None = None,
    ) -> Json:
        """The models from ``id`` (default: the active one) back to the root, newest first
        unless ``reverse`` is False."""
        if not id:
            active = self.get_active_model()
            if "model_id" not in active:
                return active
            id = active["model_id"]
        headers = {"X-Reverse": str(reverse).lower()}
        if n_max:
            headers["X-Limit"] = str(n_max)
        params = {"include_self": str(include_self).lower()}
        return self._call("GET", f"/api/v1/models/{id}/ancestors", headers, params=params).json()

    def download_model(self, id: str, path: str | Path) -> Json:
        """Save a model's safetensors file to ``path``."""
        with Path(path).open("wb") as out:
            out.write(self._call("GET", f"/api/v1/models/{id}/download").content)
        return {"success": True, "message": "Model downloaded successfully."}

    def set_active_model(self, path: str | Path) -> Json:
        """Upload a ``.npz`` model: the new active model, a root of the trail."""
        if not str(path).endswith(".npz"):
            raise ValueError("only .npz models (numpy.savez) are supported")
        token = self._upload(path)
        return self._call(
            "POST", "/api/v1/models/", data={"helper": "numpyhelper", "file_token": token}
        ).json()

    def get_active_package(self) -> Json:
        """The package sessions run (the newest upload, else the built-in one)."""
        return self._get("packages/active")

    def get_package_checksum(self) -> Json:
        """``{checksum}`` of the active package."""
        return self._get("packages/checksum")

    def get_packages_count(self) -> int:
        """How many packages."""
        return int(self._get("packages/count"))

    def set_active_package(
        self, path: str | Path, helper: str, name: str, description: str = ""
    ) -> Json:
        """Upload a compute package; it becomes the active one."""
        token = self._upload(path)
        form = {
            "helper": helper, "name": name, "description": description,
            "file_token": token, "file_name": Path(path).name,
        }  # fmt: skip
        return self._call("POST", "/api/v1/packages/", data=form).json()

    # -- sessions, rounds, validations, predictions -----------------------------------------
    def get_rounds_count(self) -> int:
        """How many rounds (every run's global models)."""
        return int(self._get("rounds/count"))

    def get_sessions_count(self) -> int:
        """How many sessions."""
        return int(self._get("sessions/count"))

    def start_session(
        self,
        name: str | None = None,
        aggregator: str = "fedavg",
        aggregator_kwargs: dict[str, Any] | None = None,
        model_id: str | None = None,
        round_timeout: int = 180,
        rounds: int = 5,
        round_buffer_size: int = -1,
        delete_models: bool = True,
        validate: bool = True,
        helper: str | None = None,
        min_clients: int = 1,
        requested_clients: int = 8,
        server_functions: Any = None,
        **cohort_config: Any,
    ) -> Json:
        """Create a session and start it: a job of the built-in recipe on the connected sites.
        ``cohort_config`` takes Cohort's extra keys (``dataset``, ``local_epochs``,
        ``learning_rate``, ``client_attributes``). ``server_functions`` are refused."""
        config = {
            "aggregator": aggregator, "aggregator_kwargs": aggregator_kwargs,
            "rounds": rounds, "round_timeout": round_timeout, "buffer_size": round_buffer_size,
            "model_id": model_id, "delete_models_storage": delete_models,
            "clients_required": min_clients, "requested_clients": requested_clients,
            "validate": validate, "helper_type": helper,
            "server_functions": None if server_functions is None else str(server_functions),
            **cohort_config,
        }  # fmt: skip
        created = self._post(
            "sessions/", {"name": name, "seed_model_id": model_id, "session_config": config}
        )
        return self._post(
            "sessions/start",
            {"session_id": created["session_id"], "rounds": rounds, "round_timeout": round_timeout},
        )

    def continue_session(self, session_id: str, rounds: int = 5, round_timeout: int = 180) -> Json:
        """Run a finished session for ``rounds`` more rounds from its newest global model."""
        body = {"session_id": session_id, "rounds": rounds, "round_timeout": round_timeout}
        return self._post("sessions/start", body)

    def get_session(self, id: str) -> Json:
        """One session (status Created, Started, Finished or Failed)."""
        return self._get(f"sessions/{id}")

    def get_validations(
        self,
        session_id: str | None = None,
        model_id: str | None = None,
        correlation_id: str | None = None,
        sender_name: str | None = None,
        sender_role: str | None = None,
        sender_client_id: str | None = None,
        n_max: int | None = None,
    ) -> Json:
        """Sites' evaluations of global models, filtered: ``{count, result}``."""
        return self._get(
            "validations/", n_max, session_id=session_id, model_id=model_id,
            correlation_id=correlation_id, sender__name=sender_name,
            sender__role=sender_role, sender__client_id=sender_client_id,
        )  # fmt: skip

    def start_predictions(
        self, prediction_id: str | None = None, model_id: str | None = None
    ) -> Json:
        """Run a model (default: the newest global one) on every connected site as a
        ``predict`` task: ``{prediction_id, job_id, model_id}``."""
        return self._post(
            "predictions/start", {"prediction_id": prediction_id, "model_id": model_id}
        )

    def get_predictions(
        self,
        model_id: str | None = None,
        correlation_id: str | None = None,
        client_id: str | None = None,
        n_max: int | None = None,
    ) -> Json:
        """Sites' prediction answers (``correlation_id`` is the prediction id)."""
        return self._get(
            "predictions/", n_max, model_id=model_id, correlation_id=correlation_id,
            client_id=client_id,
        )  # fmt: skip

    def get_validations_count(self, session_id: str | None = None) -> int:
        """How many validations (of one session)."""
        return int(self._get("validations/count", session_id=session_id))
