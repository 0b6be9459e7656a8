"""Environment variables the launcher sets for a server job process (besides the job id,
server URL, kit and artifact root it has always set)."""

from __future__ import annotations

__all__ = ["RESUME_ENV"]

#: "1" when the job process is started again after a server restart: it continues the job
#: from its last completed round instead of starting it.
RESUME_ENV = "COHORT_RESUME"
