"""Facts about this machine and process for the session API's status, version and resource
reports: the same dict from the server and from every site."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["capacity", "cohort_version", "gpu_count", "resources", "versions"]

_STARTED = time.time()


def cohort_version() -> str:
    """The installed Cohort version."""
    try:
        return metadata.version("cohort")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def versions() -> dict[str, Any]:
    """Cohort, Python and platform versions."""
    return {
        "cohort": cohort_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _memory() -> dict[str, int]:
    # /proc/meminfo is Linux-only; elsewhere the total from sysconf is the best cheap answer.
    found: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                found[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    if "MemTotal" not in found and hasattr(os, "sysconf"):
        with contextlib.suppress(ValueError, OSError):
            found["MemTotal"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "memory_total": found.get("MemTotal", 0),
        "memory_available": found.get("MemAvailable", 0),
    }


def resources(workspace: Path) -> dict[str, Any]:
    """CPUs, memory, the workspace's disk, and this process's pid and uptime."""
    disk = shutil.disk_usage(workspace if workspace.exists() else Path.cwd())
    return {
        "cpu_count": os.cpu_count() or 0,
        **_memory(),
        "disk_total": disk.total,
        "disk_free": disk.free,
        "pid": os.getpid(),
        "uptime": round(time.time() - _STARTED, 3),
        "executable": sys.executable,
    }


def gpu_count() -> int:
    """NVIDIA GPUs the driver exposes (Linux ``/proc/driver/nvidia/gpus``); 0 elsewhere.

    Read from the driver's directory rather than by running nvidia-smi: no subprocess on the
    heartbeat path, and no GPU library to import."""
    root = Path("/proc/driver/nvidia/gpus")
    try:
        return sum(1 for entry in root.iterdir() if entry.is_dir())
    except OSError:
        return 0


def capacity() -> dict[str, int]:
    """What a site reports at its heartbeat for resource policies: CPUs, total memory in
    bytes, GPUs. These do not change while the agent runs, so it asks once."""
    return {
        "cpu_count": os.cpu_count() or 0,
        "memory_total": _memory()["memory_total"],
        "gpu_count": gpu_count(),
    }
