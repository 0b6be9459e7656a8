"""Running a POC: the server and every site as background processes on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cohort.errors import CohortError, ErrorCode, Timeout
from cohort.proc import kill_group
from cohort.provision.kit import load_kit
from cohort.provision.poc import PocLayout

__all__ = ["poc_pids", "start_poc", "stop_poc", "wait_until_connected"]


def _pid_dir(layout: PocLayout) -> Path:
    return layout.workspace / "pids"


def _spawn(name: str, argv: list[str], layout: PocLayout) -> int:
    logs = layout.workspace / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cohort.cli.main", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detached from the caller's terminal and signals
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _pid_dir(layout).mkdir(parents=True, exist_ok=True)
    (_pid_dir(layout) / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def start_poc(
    layout: PocLayout,
    *,
    timeout: float = 30.0,
    sites: list[str] | None = None,
    server_args: list[str] | None = None,
) -> None:
    """Start the server and the sites, and return once every started site is connected.

    ``server_args`` are added to ``cohort server start`` (e.g. ``["--rest-port", "8443"]``).
    """
    if poc_pids(layout):
        raise CohortError(
            f"the POC in {layout.workspace} is already running",
            code=ErrorCode.CONFLICT,
            hint="Stop it first: cohort poc stop",
        )
    work = layout.workspace / "workspaces"
    _spawn(
        "server",
        # A POC streams every job's site logs to the server by default (`cohort job logs`).
        [
            "server",
            "start",
            "--kit",
            str(layout.server_kit),
            "--workspace",
            str(work / "server"),
            "--job-log-streaming",
            *(server_args or []),
        ],
        layout,
    )
    names = sorted(layout.site_kits) if sites is None else sites
    for name in names:
        _spawn(
            name,
            [
                "site",
                "start",
                "--kit",
                str(layout.site_kits[name]),
                "--workspace",
                str(work / name),
            ],
            layout,
        )
    try:
        wait_until_connected(layout, names, timeout)
    except CohortError:
        stop_poc(layout)
        raise


def wait_until_connected(layout: PocLayout, sites: list[str], timeout: float) -> None:
    """Poll the server until every named site is connected; TIMEOUT with the log's tail."""
    from cohort.admin.api import AdminAPI  # the admin client is not needed to stop a POC

    deadline = time.monotonic() + timeout
    api = AdminAPI(load_kit(layout.admin_kit), timeout=5.0)
    last: str = "server not reachable yet"
    try:
        while time.monotonic() < deadline:
            try:
                info = api.system_info()
                up = {s["site"]["name"] for s in info["sites"] if s["connected"]}
                missing = sorted(set(sites) - up)
                if not missing:
                    return
                last = f"waiting for {', '.join(missing)}"
            except CohortError as exc:
                last = str(exc)
            dead = [n for n, pid in poc_pids(layout).items() if not _alive(pid)]
            if dead:
                raise CohortError(
                    f"POC process(es) {', '.join(dead)} exited during start-up",
                    hint=f"See {layout.workspace / 'logs'}.",
                )
            time.sleep(0.1)
    finally:
        api.close()
    raise Timeout(f"POC did not come up within {timeout:g} s: {last}", code=ErrorCode.TIMEOUT)


def poc_pids(layout: PocLayout) -> dict[str, int]:
    """Name -> pid of the POC processes that are still alive."""
    result = {}
    pid_dir = _pid_dir(layout)
    for pid_file in sorted(pid_dir.glob("*.pid")) if pid_dir.is_dir() else []:
        try:
            pid = int(pid_file.read_text())
        except ValueError:
            continue
        if _alive(pid):
            result[pid_file.stem] = pid
        else:
            pid_file.unlink(missing_ok=True)
    return result


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


def stop_poc(layout: PocLayout, grace: float = 10.0) -> list[str]:
    """Stop every POC process (sites first, then the server); return the names stopped."""
    pids = poc_pids(layout)
    order = sorted(n for n in pids if n != "server") + (["server"] if "server" in pids else [])
    for name in order:
        kill_group(pids[name], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pids[n]) for n in order):
        time.sleep(0.05)
    for name in order:
        if _alive(pids[name]):
            kill_group(pids[name], signal.SIGKILL)
        (_pid_dir(layout) / f"{name}.pid").unlink(missing_ok=True)
    return order
