"""Fault points: places in the code where a test can kill the server on purpose.

A fault test sets ``COHORT_FAULT_KILL=<name>[:<n>]`` in the server's environment; the n-th
time (default 1) a process passes ``fault_point(name)`` it SIGKILLs the server's API process
and itself, as a power cut or the OOM killer would. The server's job processes inherit the
variable and count their own passes; they die with the API process (parent-death signal).
With the variable unset a fault point costs one dictionary lookup at import and a None test.

``COHORT_FAULT_HOLD=<name>[:<n>]`` with ``COHORT_FAULT_RELEASE=<file>`` instead holds the
process at the n-th pass until that file exists: a test then knows the job is mid-run (for a
graceful restart, say) without racing it by sleeping.

The points (documented in docs/reliability.md):

* ``job_transition``: right after a job's status change is committed to the store (API process).
* ``update_stored``: right after a site's update is stored, before it is acknowledged (API
  process); ``:n`` counts updates, so ``update_stored:4`` dies on the 4th one.
* ``global_model_write``: the round's global model is written to a temp file and synced but
  not yet renamed into place nor recorded (job process).
* ``round_saved``: between rounds: the global model is recorded, the next round's tasks are
  not created yet (job process).
"""

from __future__ import annotations

import os
import signal
import time

__all__ = ["FAULT_ENV", "HOLD_ENV", "RELEASE_ENV", "fault_point"]

#: The environment variable that arms a fault point.
FAULT_ENV = "COHORT_FAULT_KILL"
#: The environment variable that makes a fault point wait, and the file that releases it.
HOLD_ENV = "COHORT_FAULT_HOLD"
RELEASE_ENV = "COHORT_FAULT_RELEASE"


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count) if count else 1


_ARMED = _parse(os.environ.get(FAULT_ENV))
_HELD = _parse(os.environ.get(HOLD_ENV))
_passes = 0
_held_passes = 0


def fault_point(name: str) -> None:
    """Kill the server here if ``COHORT_FAULT_KILL`` names this point and its pass count is
    reached; otherwise do nothing."""
    global _passes, _held_passes
    if _HELD is not None and _HELD[0] == name:
        _held_passes += 1
        if _held_passes == _HELD[1]:
            release = os.environ.get(RELEASE_ENV, "")
            print(f"cohort: fault point {name} pass {_held_passes}: holding", flush=True)
            while release and not os.path.exists(release):
                time.sleep(0.05)
    if _ARMED is None or _ARMED[0] != name:
        return
    _passes += 1
    if _passes < _ARMED[1]:
        return
    # A job process names its API process in COHORT_PARENT_PID; the API process is itself.
    server = int(os.environ.get("COHORT_PARENT_PID") or os.getpid())
    print(f"cohort: fault point {name} pass {_passes}: killing the server", flush=True)
    os.kill(server, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
