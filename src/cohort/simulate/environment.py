"""What a site's script sees of its process, set up for in-process sites and undone afterwards.

A site agent starts a script as ``python <script> <args>`` in the app folder with the job's
variables in its environment. Threads share one process, so the simulator sets what is the same
for every site (working folder, ``sys.argv``, ``sys.path``, ``COHORT_JOB_ID``,
``COHORT_NUM_SITES``, the app's ``env``) once, and gives each site its name through the client
API: scripts must call ``flare.get_site_name()``, as ``COHORT_SITE_NAME`` cannot differ per
thread (a worker process hosting a single site does set it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cohort.simulate.site import SiteScript
from cohort.simulate.streams import routed_output

__all__ = ["SITE_ONLY_VARIABLES", "cap_malloc_arenas", "script_environment"]

#: Variables a real site sets per site or per connection; unset while sites are threads.
SITE_ONLY_VARIABLES = ("COHORT_SITE_NAME", "COHORT_KIT_DIR", "COHORT_SERVER_URL")


_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def cap_malloc_arenas(limit: int) -> bool:
    """Let glibc's malloc keep at most ``limit`` arenas; False where that is not possible.

    glibc gives threads arenas of their own, up to 8 per core, and an arena keeps what it
    freed: hundreds of site threads that each decode and free model-sized buffers would hold
    memory by thread count (measured: 300 sites of a 1 MiB model grew 131 MB; with the cap,
    45 MB). Capped at the number of threads that work at once, memory follows the sites that
    work, as the simulator promises. glibc fixes the cap for the rest of the process once it
    has more than 8 arenas; it does nothing if the process already had that many.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, max(1, limit)))
    except (OSError, AttributeError):  # not glibc (musl has no arenas to cap)
        return False


@contextlib.contextmanager
def script_environment(
    script: SiteScript, variables: dict[str, str], seed: int, job_root: Path, working: int
) -> Iterator[None]:
    """Make this process look like a site's job process to ``script``; restore it after.

    ``variables`` are the job's (``COHORT_JOB_ID`` ...), set over the app's own ``env`` as the
    site agent does. Modules the script imported from the job folder are forgotten afterwards,
    so the next simulation imports its own copies. ``working`` is how many sites work at once
    here: malloc keeps one arena for each, plus the main one (see :func:`cap_malloc_arenas`).
    """
    cap_malloc_arenas(working + 1)
    saved_argv, saved_path, saved_cwd = sys.argv[:], sys.path[:], os.getcwd()
    values = {**script.env, **variables}
    touched = set(values) | set(SITE_ONLY_VARIABLES)
    saved_env = {key: os.environ.get(key) for key in touched}
    before = set(sys.modules)
    try:
        for key in SITE_ONLY_VARIABLES:
            if key not in values:
                os.environ.pop(key, None)
        os.environ.update(values)
        os.chdir(script.app_dir)
        sys.argv = [str(script.path.relative_to(script.app_dir)), *script.args]
        sys.path.insert(0, str(script.path.parent))
        random.seed(seed)
        np.random.seed(seed)  # scripts may use the legacy global generator
        with routed_output():
            yield
    finally:
        sys.argv[:] = saved_argv
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget_modules(set(sys.modules) - before, job_root)


def _forget_modules(names: set[str], root: Path) -> None:
    root = root.resolve()
    for name in names:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(root):
            del sys.modules[name]
