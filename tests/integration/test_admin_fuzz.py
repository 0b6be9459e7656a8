"""A schema-driven fuzz run (schemathesis) over the admin API of a real server: the server
is started as its own process, every request goes over mutual TLS with the admin's startup
kit, and whatever the generated requests hold, the server never answers 5xx and still
answers afterwards.

Two operations are left out on purpose: ``POST /admin/v1/system/shutdown`` and
``POST /admin/v1/server/{action}`` stop or restart the server when they succeed, which is
what they are for. Everything else (submitting random bodies as job archives, studies,
tokens, site commands, logs, reports) is fuzzed. One job is submitted (and aborted) first,
and every generated request on a job is sent a second time naming that job, so that the
handlers behind JOB_NOT_FOUND are fuzzed too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error

from tests.fuzzing import fuzz_settings
from tests.integration.federation import HELLO_NUMPY, Federation

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("admin-fuzz")]

#: Operations that stop the server when they succeed (METHOD path).
STOPS_THE_SERVER = {"POST /admin/v1/system/shutdown", "POST /admin/v1/server/{action}"}
EXAMPLES = 25


@pytest.fixture
def fed(tmp_path: Any, cohort_home: Any) -> Iterator[Federation]:
    federation = Federation(tmp_path, 1)
    try:
        yield federation.start(sites=[])
    finally:
        federation.stop()


def test_no_admin_request_makes_a_server_error(fed: Federation) -> None:
    seeded = fed.submit(HELLO_NUMPY)
    # Ended, so that a generated long poll on it (wait=..., since_version=...) returns at once.
    fed.api.abort_job(seeded)
    document = fed.api.call("GET", "/openapi.json")
    schema = schemathesis.openapi.from_dict(document)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith("/admin/v1/")
        and f"{op.method.upper()} {op.path}" not in STOPS_THE_SERVER
    ]
    assert len(operations) >= 30, [f"{op.method} {op.path}" for op in operations]

    kit = fed.api.kit
    session = requests.Session()
    statuses: Counter[int] = Counter()
    try:
        for operation in operations:

            @given(case=operation.as_strategy())
            @fuzz_settings(EXAMPLES)
            def fuzz(case: Any) -> None:
                for job_id in (None, seeded):
                    if job_id is not None:  # again, on a job that exists
                        if "job_id" not in (case.path_parameters or {}):
                            break
                        case.path_parameters["job_id"] = job_id
                    response = case.call_and_validate(
                        base_url=kit.server_url,
                        session=session,
                        checks=[not_a_server_error],
                        timeout=30,
                        cert=(str(kit.cert), str(kit.key)),
                        verify=str(kit.ca),
                    )
                    statuses[response.status_code] += 1

            fuzz()
    finally:
        session.close()
    # The run reached the handlers, not only the validation layer, and the server is up.
    assert statuses[200] > 0 and statuses[404] > 0 and statuses[422] + statuses[400] > 0, statuses
    assert sum(statuses.values()) >= len(operations) * 10, statuses
    assert fed.api.system_info()["status"]
