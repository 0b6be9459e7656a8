"""A provisioned kit's start.sh and stop.sh run and stop the real server and site."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cohort.admin.api import AdminAPI
from cohort.errors import CohortError
from cohort.provision.kit import load_kit
from cohort.provision.poc import free_port
from cohort.provision.project import parse_project
from cohort.provision.provisioner import provision

pytestmark = pytest.mark.integration


def _until(check: object, what: str, timeout: float = 60.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.3)


def test_start_and_stop_scripts(tmp_path: Path) -> None:
    spec = parse_project(
        {
            "name": "scripts",
            "server": {"host": "127.0.0.1", "port": free_port()},
            "orgs": [{"name": "org"}],
            "sites": [{"name": "site-1", "org": "org"}],
            "users": [{"name": "admin@org", "org": "org", "role": "project_admin"}],
        }
    )
    made = provision(spec, tmp_path)
    # the scripts call `cohort`: the one installed next to this interpreter
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    procs = [
        subprocess.Popen(
            ["sh", str(kit / "startup" / "start.sh")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for kit in (made.server_kit, made.site_kits["site-1"])
    ]
    api = AdminAPI(load_kit(made.admin_kits["admin@org"]))

    def site_connected() -> bool:
        try:
            return any(s["connected"] for s in api.system_info()["sites"])
        except CohortError:
            return False

    try:
        _until(site_connected, "the site connects to the server")
        assert (made.server_kit / "workspace" / "cohort.db").is_file()
        for kit, kind in ((made.site_kits["site-1"], "site"), (made.server_kit, "server")):
            pid = int((kit / "local" / f"{kind}.pid").read_text())
            assert pid in (p.pid for p in procs)  # exec kept the script's pid
            stop = subprocess.run(["sh", str(kit / "startup" / "stop.sh")], timeout=30)
            assert stop.returncode == 0
            assert not (kit / "local" / f"{kind}.pid").exists()
        for proc in procs:
            assert proc.wait(60) is not None
        again = subprocess.run(
            ["sh", str(made.server_kit / "startup" / "stop.sh")], capture_output=True, text=True
        )
        assert again.returncode == 1 and "was not started with start.sh" in again.stderr
    finally:
        api.close()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait(10)
