"""A real federation with the edge listener on, and one finished (and continued) session that
the tests of the package share."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cohort.edge import Scaleout
from cohort.provision import free_port
from tests.rest.conftest import RestFederation, start_rest_federation

#: The example compute package (a site app folder), which tests upload as a zip.
PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "edge-package" / "package"


@dataclass
class EdgeFederation:
    """The federation (with REST and edge ports), the edge port, and the finished session."""

    rest: RestFederation
    port: int
    session_id: str = ""

    @property
    def host(self) -> str:
        """The server's host name (as its certificate names it)."""
        return self.rest.url.split("://", 1)[1].rsplit(":", 1)[0]

    def client(self, key: str | None = None) -> Scaleout:
        """A Scaleout client with the admin key (or ``key``)."""
        return Scaleout(self.host, self.port, verify=self.rest.ca, token=key or self.rest.admin_key)

    def wait_finished(self, session_id: str, runs: int, timeout: float = 240.0) -> dict[str, Any]:
        """Wait until the session's newest of ``runs`` runs has ended."""
        with self.client() as c:
            deadline = time.monotonic() + timeout
            while True:
                got = c.get_session(session_id)
                if len(got["job_ids"]) == runs and got["status"] in ("Finished", "Failed"):
                    return dict(got)
                assert time.monotonic() < deadline, got
                time.sleep(0.5)


def package_zip() -> bytes:
    """The example package as ``zip -r`` makes it: everything under one top folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(PACKAGE.iterdir()):
            if path.is_file():
                zf.write(path, f"edge-package/{path.name}")
    return buf.getvalue()


@contextmanager
def edge_federation(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[EdgeFederation]:
    """Three sites and a server with REST and edge listeners, stopped on the way out."""
    tmp = tmp_path_factory.mktemp(name)
    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_HOME", str(tmp / "home"))
        # The tests poll and call a lot: the default 100 calls a minute would stop them.
        args = ["--edge-port", str(port), "--rate-limit", "general=100000/60"]
        rest = start_rest_federation(tmp, 3, args)
        try:
            yield EdgeFederation(rest, port)
        finally:
            rest.fed.stop()


@pytest.fixture(scope="package")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeFederation]:
    """The federation the package's read-only tests share, with a session of 2 rounds that
    finished and was continued for 1 more. Tests that change what later sessions run (the
    active package or model) have a federation of their own."""
    with edge_federation(tmp_path_factory, "edge") as fed:
        with fed.client() as c:
            started = c.start_session(
                name="edge-s1", rounds=2, min_clients=3, round_timeout=120, dataset="wine"
            )
            fed.session_id = started["session_id"]
            assert fed.wait_finished(fed.session_id, 1)["status"] == "Finished"
            c.continue_session(fed.session_id, rounds=1, round_timeout=120)
            assert fed.wait_finished(fed.session_id, 2)["status"] == "Finished"
        yield fed
