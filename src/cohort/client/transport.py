"""How a training script talks to the server: the transport behind the client API.

The client API is written against :class:`ClientTransport` so the same script runs over HTTPS
in a real federation and in-process in the simulator.
"""

from __future__ import annotations

import abc
import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pydantic import ValidationError

from cohort.client.chunked import (
    chunk_bytes_from_env,
    download_model,
    upload_file,
    write_payload_temp,
)
from cohort.errors import CohortError, ConnectionFailed, ErrorCode, InvalidRequest
from cohort.httpclient import check_response, connection_error, kit_client
from cohort.provision.kit import load_kit
from cohort.schemas.fleet import (
    BODY_SHA256_HEADER,
    MODEL_CHUNKED_HEADER,
    MODEL_SHA256_HEADER,
    TASK_HEADER,
    TaskHeader,
)
from cohort.wire.payload import PayloadHeader, decode_payload, encode_payload, iter_payload

__all__ = ["ClientTransport", "HttpTransport", "ReceivedTask"]


class ReceivedTask:
    """A task as the script sees it: its description, the model tensors and their header."""

    def __init__(
        self, task: TaskHeader, params: dict[str, np.ndarray], header: PayloadHeader
    ) -> None:
        self.task = task
        self.params = params
        self.header = header


class ClientTransport(abc.ABC):
    """Moves tasks to the script and results back. Implementations MUST be retry-safe:
    sending the same result twice is counted once by the server."""

    @abc.abstractmethod
    def fetch_task(self) -> ReceivedTask | None:
        """Block until the next task for this site arrives; None when the job is over."""

    @abc.abstractmethod
    def send_result(self, task: TaskHeader, payload: bytes) -> None:
        """Deliver the encoded result of ``task``."""

    def send_params(
        self, task: TaskHeader, params: Mapping[str, Any], header: PayloadHeader
    ) -> None:
        """Deliver a result given as tensors and header (encoded here: a transport may
        stream them to the server without a whole encoded copy in memory)."""
        self.send_result(task, encode_payload(params, header))

    @abc.abstractmethod
    def log_metrics(self, records: list[dict[str, Any]]) -> None:
        """Deliver metric records (key, value, step, time) for the job's tracking."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class HttpTransport(ClientTransport):
    """The fleet API over mTLS with the site's startup kit (set up by the site agent)."""

    def __init__(
        self,
        job_id: str,
        kit_dir: Path,
        *,
        poll_seconds: float = 20.0,
        retry_seconds: float = 120.0,
        server_url: str | None = None,
    ) -> None:
        self.job_id = job_id
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        kit = load_kit(kit_dir)
        self._http = kit_client(kit, timeout=poll_seconds + 30.0, base_url=server_url)
        self._base = f"/fleet/v1/jobs/{job_id}"
        # Models up to one chunk move in one request; larger ones in verified chunks.
        self.chunk_bytes = chunk_bytes_from_env()

    @classmethod
    def from_env(cls) -> HttpTransport:
        """Build from the variables the site agent sets for a job's script."""
        try:
            return cls(
                os.environ["COHORT_JOB_ID"],
                Path(os.environ["COHORT_KIT_DIR"]),
                server_url=os.environ.get("COHORT_SERVER_URL"),
            )
        except KeyError as exc:
            raise InvalidRequest(
                f"{exc.args[0]} is not set: this script must be started by a Cohort site agent",
                hint="Run it with `cohort job submit` on a federation, or `cohort simulate`.",
            ) from exc

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # Retry transport failures (a server restart, a dropped connection) until a deadline;
        # every request here is idempotent, so retrying cannot double-count anything. At most
        # a second apart (a heartbeat's pace): a restarted server is served again at once
        # rather than up to 5 s later, when the next doubled pause ran out.
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.2
        while True:
            try:
                return self._http.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if time.monotonic() + delay > deadline:
                    raise connection_error(str(self._http.base_url), exc) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def fetch_task(self) -> ReceivedTask | None:
        """Long-poll the server for this site's next task."""
        while True:
            response = self._request(
                "GET",
                f"{self._base}/task",
                params={"wait": self.poll_seconds, "chunk": self.chunk_bytes},
            )
            if response.status_code == 204:
                continue
            if response.status_code == 409 and _error_code(response) == ErrorCode.JOB_NOT_RUNNING:
                return None  # the job ended (finished, failed elsewhere, or aborted)
            check_response(response)
            try:
                task = TaskHeader.model_validate_json(response.headers.get(TASK_HEADER, ""))
            except ValidationError as exc:
                raise CohortError(
                    f"server sent a task without a valid {TASK_HEADER} header: {exc}",
                    code=ErrorCode.PAYLOAD_INVALID,
                ) from exc
            return ReceivedTask(task, *self._model(task, response))

    def _model(
        self, task: TaskHeader, response: httpx.Response
    ) -> tuple[dict[str, np.ndarray], PayloadHeader]:
        # A model over one chunk comes in verified chunks; one that came whole is checked
        # against its sha256 and, if damaged, fetched again the chunked way.
        expected = response.headers.get(MODEL_SHA256_HEADER)
        chunked = response.headers.get(MODEL_CHUNKED_HEADER) == "1"
        if not chunked and (
            expected is None or hashlib.sha256(response.content).hexdigest() == expected
        ):
            return decode_payload(response.content)
        return download_model(self._request, self._base, task.task_id, self.chunk_bytes)

    def send_result(self, task: TaskHeader, payload: bytes) -> None:
        """Upload a result in one request with its sha256; retried on transport failures,
        deduplicated by the server."""
        digest = hashlib.sha256(payload).hexdigest()
        response = self._request(
            "POST",
            f"{self._base}/tasks/{task.task_id}/result",
            content=payload,
            headers={"Content-Type": "application/octet-stream", BODY_SHA256_HEADER: digest},
        )
        check_response(response)

    def send_params(
        self, task: TaskHeader, params: Mapping[str, Any], header: PayloadHeader
    ) -> None:
        """Upload a result: in one request when it fits one chunk, else written to a file
        and sent through a resumable upload session."""
        size, pieces = iter_payload(params, header)
        if size <= self.chunk_bytes:
            self.send_result(task, b"".join(pieces))
            return
        path, digest, _ = write_payload_temp(params, header)
        try:
            upload_file(self._request, self._base, task.task_id, path, digest, self.chunk_bytes)
        finally:
            path.unlink(missing_ok=True)

    def log_metrics(self, records: list[dict[str, Any]]) -> None:
        """Send metric records; a failure here must not kill training, so it is reported."""
        try:
            check_response(self._request("POST", f"{self._base}/metrics", json=records))
        except (CohortError, ConnectionFailed) as exc:
            print(f"cohort: could not send metrics: {exc}", flush=True)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()
