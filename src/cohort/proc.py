"""Process-group signalling, shared by everything that starts job or POC processes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

__all__ = ["die_with_parent", "kill_group"]

_PR_SET_PDEATHSIG = 1


def kill_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid``; gone groups are not an error.

    Job processes are started as group leaders (``start_new_session``) so that this reaches
    every process they spawned too.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def die_with_parent(sig: signal.Signals = signal.SIGKILL, parent_pid: int | None = None) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a no-op elsewhere).

    A job's processes work on state their parent owns (the site agent's task, the server's
    job); left running after the parent was killed they would only hold ports and files.
    When ``parent_pid`` is given and the parent is already gone (it died before this call),
    the signal is sent at once, closing the race between fork and this call.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig))
    except OSError:
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
