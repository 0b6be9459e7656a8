"""Checksums at the application level: the test acts as a site (its kit, its heartbeats)
against a real server and damages what it sends and what it receives on purpose. (Under TLS
the network cannot deliver damaged bytes; these are the checks behind the transport's.)"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cohort.client.chunked import download_model, upload_file, write_payload_temp
from cohort.errors import CohortError, ErrorCode
from cohort.httpclient import check_response, kit_client
from cohort.provision.kit import load_kit
from cohort.provision.processes import wait_until_connected
from cohort.schemas.fleet import (
    BODY_SHA256_HEADER,
    MODEL_CHUNKED_HEADER,
    TASK_HEADER,
    TaskHeader,
)
from cohort.states import JobStatus
from cohort.wire.payload import PayloadHeader, encode_payload
from tests.integration.federation import Federation, make_job

pytestmark = pytest.mark.xdist_group("federation")

N = 100_000  # float32: 400 KB a tensor
CHUNK = 128 * 1024


class Site:
    """The test as site-1: a kit client and a heartbeat thread."""

    def __init__(self, fed: Federation) -> None:
        kit = load_kit(fed.layout.site_kits["site-1"])
        self.http = kit_client(kit, timeout=30.0)
        self.beats = kit_client(kit, timeout=5.0)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stop.wait(0.3):
            with contextlib.suppress(httpx.HTTPError):
                self.beats.post("/fleet/v1/heartbeat", json={"running_jobs": []})

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.http.close()
        self.beats.close()

    def next_task(self, job_id: str) -> httpx.Response:
        for _ in range(60):
            response = self.http.get(
                f"/fleet/v1/jobs/{job_id}/task", params={"wait": 2, "chunk": CHUNK}
            )
            if response.status_code == 200:
                return response
        raise AssertionError("no task within 2 minutes")


@pytest.fixture
def site_and_fed(tmp_path: Path, cohort_home: Path) -> Iterator[tuple[Site, Federation]]:
    fed = Federation(tmp_path, 1)
    site: Site | None = None
    try:
        fed.start_server()
        site = Site(fed)
        wait_until_connected(fed.layout, ["site-1"], 30)
        yield site, fed
    finally:
        if site is not None:
            site.close()
        fed.stop()


def code_of(response: httpx.Response) -> str:
    with pytest.raises(CohortError) as caught:
        check_response(response)
    return str(caught.value.code)


def test_damaged_chunks_and_payloads_are_refused_and_fetched_again(
    site_and_fed: tuple[Site, Federation], tmp_path: Path
) -> None:
    site, fed = site_and_fed
    job_id = fed.submit(make_job(tmp_path / "job", "", num_rounds=1, min_clients=1))
    base = f"/fleet/v1/jobs/{job_id}"

    # The first task asks for the initial model: upload it, damaging things on the way.
    response = site.next_task(job_id)
    task = TaskHeader.model_validate_json(response.headers[TASK_HEADER])
    assert task.name == "submit_model"
    initial = {"w": np.arange(N, dtype=np.float32), "b": np.ones(N, np.float32)}
    path, sha, size = write_payload_temp(initial, PayloadHeader(kind="update", num_samples=1))
    data = path.read_bytes()
    upload = f"{base}/tasks/{task.task_id}/upload"

    # One request whose body does not match its sha256: refused, nothing stored.
    bad = site.http.post(
        f"{base}/tasks/{task.task_id}/result",
        content=data[:-1] + b"\x00",
        headers={BODY_SHA256_HEADER: sha},
    )
    assert code_of(bad) == ErrorCode.CHECKSUM_MISMATCH
    # A chunk that does not match its sha256: refused, the session holds nothing.
    first = data[:CHUNK]
    wrong = hashlib.sha256(first[::-1]).hexdigest()
    put = site.http.put(
        upload, params={"offset": 0}, content=first, headers={BODY_SHA256_HEADER: wrong}
    )
    assert code_of(put) == ErrorCode.CHECKSUM_MISMATCH
    assert site.http.get(upload).json()["received"] == 0
    good = {BODY_SHA256_HEADER: hashlib.sha256(first).hexdigest()}
    assert site.http.put(upload, params={"offset": 0}, content=first, headers=good).json() == {
        "task_id": task.task_id,
        "received": CHUNK,
    }
    # A chunk past what the server holds: CONFLICT, naming where to continue.
    gap = site.http.put(upload, params={"offset": 3 * CHUNK}, content=first, headers=good)
    assert code_of(gap) == ErrorCode.CONFLICT
    assert gap.json()["error"]["details"]["received"] == CHUNK
    # A whole that does not match what the site says it sent: refused, the session dropped.
    rest = data[CHUNK:]
    rest_sha = {BODY_SHA256_HEADER: hashlib.sha256(rest).hexdigest()}
    check_response(site.http.put(upload, params={"offset": CHUNK}, content=rest, headers=rest_sha))
    commit = site.http.post(f"{upload}/commit", json={"size": size, "sha256": "0" * 64})
    assert code_of(commit) == ErrorCode.CHECKSUM_MISMATCH
    assert site.http.get(upload).json()["received"] == 0

    # Now properly, through the client's uploader; a retried commit is a duplicate.
    receipt = upload_file(site.http.request, base, task.task_id, path, sha, CHUNK)
    assert (receipt.accepted, receipt.duplicate, receipt.sha256) == (True, False, sha)
    again = site.http.post(f"{upload}/commit", json={"size": size, "sha256": sha})
    assert check_response(again).json()["duplicate"] is True
    path.unlink()

    # The train task's model comes in chunks; the first one arrives damaged once.
    response = site.next_task(job_id)
    task = TaskHeader.model_validate_json(response.headers[TASK_HEADER])
    assert response.headers[MODEL_CHUNKED_HEADER] == "1" and response.content == b""
    ranges: list[str] = []

    def damaging(method: str, url: str, **kwargs: Any) -> httpx.Response:
        got = site.http.request(method, url, **kwargs)
        if "Range" in kwargs.get("headers", {}):
            ranges.append(kwargs["headers"]["Range"])
            if len(ranges) == 1:
                return httpx.Response(got.status_code, content=b"\xff" + got.content[1:])
        return got

    params, header = download_model(damaging, base, task.task_id, CHUNK)
    chunks = -(-(2 * N * 4 + 200) // CHUNK)
    assert len(ranges) in (chunks + 1, chunks + 2)  # the first chunk twice
    assert ranges[0] == ranges[1]
    np.testing.assert_array_equal(params["w"], initial["w"])
    np.testing.assert_array_equal(params["b"], initial["b"])
    assert header.kind == "model"

    update = {"w": params["w"] + 1, "b": params["b"]}
    path, sha, _ = write_payload_temp(update, PayloadHeader(kind="update", num_samples=1))
    upload_file(site.http.request, base, task.task_id, path, sha, CHUNK)
    path.unlink()
    # Final validation: a result with metrics only (one small request).
    response = site.next_task(job_id)
    task = TaskHeader.model_validate_json(response.headers[TASK_HEADER])
    assert task.name == "validate"
    result = encode_payload({}, PayloadHeader(kind="update", metrics={"acc": 1.0}))
    check_response(site.http.post(f"{base}/tasks/{task.task_id}/result", content=result))
    record = fed.wait(job_id, timeout=60)
    assert record.status == JobStatus.FINISHED_OK, record
