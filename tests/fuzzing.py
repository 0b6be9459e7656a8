"""One profile for the schemathesis fuzz runs (REST and admin API): how many cases each
operation gets, the same cases every run.

The quick profile is part of the test suite (a few thousand cases across both APIs, about a
minute on two cores). ``COHORT_FUZZ_LONG=1`` (``make fuzz-long``, part of the soak run) gives
every operation ten times as many cases and draws new ones each run (Hypothesis prints how
to reproduce a failure it finds).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

__all__ = ["LONG", "fuzz_settings"]

#: True for the long run (the soak profile), False in the quick suite.
LONG = os.environ.get("COHORT_FUZZ_LONG", "") not in ("", "0")


def fuzz_settings(examples: int) -> Any:
    """Hypothesis settings for ``examples`` cases per operation (ten times as many when long).

    The quick run is derandomized: a gate that fails only on an unlucky draw teaches nothing.
    """
    return settings(
        max_examples=examples * 10 if LONG else examples,
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=list(HealthCheck),
    )
