"""A schema-driven fuzz run of the edge API's own OpenAPI document (schemathesis): whatever
the generated requests hold, the server never answers 5xx.

The edge app runs in process on a fresh workspace with one admin key and generous rate limits;
a seed model and a session are created first so that id-shaped paths have something to find.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from cohort.schemas.edge import NewSession
from cohort.schemas.tokens import CreateTokenRequest
from cohort.server.app import create_app
from cohort.server.config import RateLimit, RateLimits, ServerConfig


def build(tmp: Path) -> tuple[Any, str]:
    """The edge app of a fresh server, and an admin key for it."""
    limits = RateLimits(general=RateLimit(requests=1_000_000, seconds=60))
    config = ServerConfig(kit=tmp, workspace=tmp / "ws", rate_limits=limits)
    app = create_app(config, "https://127.0.0.1:1")
    services = app.state.services
    key = services.tokens.create("fuzz", CreateTokenRequest(role="project_admin")).token
    edge = app.state.edge_app
    buffer = io.BytesIO()
    np.savez(buffer, w=np.zeros((30, 2), np.float32), b=np.zeros(2, np.float32))
    seed = edge.state.edge.models.add_seed(buffer.getvalue())
    edge.state.edge.sessions.create(NewSession(name="seeded", seed_model_id=seed.model_id))
    return edge, key


def test_no_request_makes_a_server_error(tmp_path: Path) -> None:
    edge, key = build(tmp_path)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", edge)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40

    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases every run, as tests/rest/test_fuzz.py
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {key}"}, checks=[not_a_server_error]
            )
            statuses[response.status_code] += 1

        fuzz()
    assert statuses[200] > 0 and statuses[400] > 0 and statuses[404] > 0, statuses
