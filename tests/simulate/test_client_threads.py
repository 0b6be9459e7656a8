"""The client API's per-thread state (the simulator's hook) leaves the real path as it was."""

from __future__ import annotations

import threading
from typing import Any

from cohort.client import api
from cohort.client.transport import ClientTransport, ReceivedTask
from cohort.schemas.fleet import TaskHeader


class _Quiet(ClientTransport):
    def __init__(self) -> None:
        self.closed = False

    def fetch_task(self) -> ReceivedTask | None:
        return None

    def send_result(self, task: TaskHeader, payload: bytes) -> None:
        raise AssertionError("no task was sent")

    def log_metrics(self, records: list[dict[str, Any]]) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_each_bound_thread_has_its_own_client_and_the_process_client_is_untouched() -> None:
    process_transport = _Quiet()
    api.init(transport=process_transport, site="real-site", job_id="job-1")
    seen: dict[str, tuple[str, str, bool]] = {}
    transports = {name: _Quiet() for name in ("site-1", "site-2")}

    def site(name: str) -> None:
        api.bind_thread(transports[name], name, "sim-job")
        api.init()  # what a script does first: a no-op once bound
        seen[name] = (api.get_site_name(), api.get_job_id(), api.is_running())
        api.shutdown()

    try:
        threads = [threading.Thread(target=site, args=(n,)) for n in transports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert seen == {
            "site-1": ("site-1", "sim-job", False),
            "site-2": ("site-2", "sim-job", False),
        }
        assert all(t.closed for t in transports.values())
        # The main thread still talks through the module-level client, as before the hook.
        assert api.get_site_name() == "real-site" and api.get_job_id() == "job-1"
        assert not process_transport.closed
    finally:
        api.shutdown()
    assert process_transport.closed and api._client is None
