"""Process-group signalling, shared by everything that starts job or POC processes."""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["kill_group"]


def kill_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid``; gone groups are not an error.

    Job processes are started as group leaders (``start_new_session``) so that this reaches
    every process they spawned too.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
