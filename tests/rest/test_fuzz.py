"""A schema-driven fuzz run of the REST API's own OpenAPI document (schemathesis): whatever
the generated requests hold, the server never answers 5xx.

The app runs in process on a fresh workspace with one admin key and generous rate limits
(so the fuzzer is not stopped by 429s); one experiment is created first so that
experiment-shaped paths have something to find.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error
from starlette.routing import Mount

from cohort.schemas.rest import CreateExperiment
from cohort.schemas.tokens import CreateTokenRequest
from cohort.server.app import create_app
from cohort.server.config import RateLimit, RateLimits, ServerConfig
from tests.fuzzing import fuzz_settings

#: Cases per operation in the quick run (tests/fuzzing.py: ten times as many when long).
EXAMPLES = 40


def build(tmp: Path) -> tuple[Any, str]:
    """The /api/v1 sub-application of a fresh server, and an admin key for it."""
    limits = RateLimits(
        general=RateLimit(requests=1_000_000, seconds=60),
        upload=RateLimit(requests=1_000_000, seconds=60),
        training_start=RateLimit(requests=1_000_000, seconds=60),
    )
    config = ServerConfig(kit=tmp, workspace=tmp / "ws", rate_limits=limits)
    app = create_app(config, "https://127.0.0.1:1")
    services = app.state.services
    key = services.tokens.create("fuzz", CreateTokenRequest(role="project_admin")).token
    services.experiments.create(CreateExperiment(name="seeded", experiment_id="exp-1"))
    rest = next(r.app for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1")
    return rest, key


def test_no_request_makes_a_server_error(tmp_path: Path) -> None:
    rest, key = build(tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", rest)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 17  # 16 paths, /experiments has GET and POST

    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @fuzz_settings(EXAMPLES)
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {key}"}, checks=[not_a_server_error]
            )
            statuses[response.status_code] += 1

        fuzz()
    # The run reached the handlers, not only the validation layer.
    assert sum(statuses.values()) >= len(operations) * EXAMPLES // 2, statuses
    assert statuses[200] > 0 and statuses[400] > 0 and statuses[404] > 0, statuses
