"""Fixtures for network-fault tests: a federation whose sites reach the server through a
fault-injecting proxy; the proxy and every process are stopped whatever happens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cohort.provision.kit import KIT_FILE
from tests.faults.proxy import FaultProxy
from tests.integration.conftest import cohort_home  # noqa: F401 - a fixture used here
from tests.integration.federation import Federation


def point_kit_at(kit_dir: Path, port: int) -> None:
    """Make a site kit dial ``port`` on its server host (the proxy, not the server)."""
    path = kit_dir / "startup" / KIT_FILE
    config = json.loads(path.read_text())
    config["server_port"] = port
    path.write_text(json.dumps(config))


@pytest.fixture
def proxied(tmp_path: Path, cohort_home: Path) -> Iterator[tuple[Federation, FaultProxy]]:  # noqa: F811
    """Two sites behind a proxy (not started yet); the admin talks to the server directly."""
    fed = Federation(tmp_path, 2)
    server_port = json.loads((fed.layout.server_kit / "startup" / KIT_FILE).read_text())[
        "server_port"
    ]
    proxy = FaultProxy(server_port)
    try:
        for kit in fed.layout.site_kits.values():
            point_kit_at(kit, proxy.port)
        yield fed, proxy
    finally:
        fed.stop()
        proxy.stop()
