"""Cohort: train one model across sites whose data cannot leave them.

This is the curated public API: the names most programs need, importable from ``cohort``
itself. Each lives in its own package (shown below), where its neighbours are too::

    cohort.FedAvgRecipe, cohort.FedProxRecipe, ...   recipes that write job folders
    cohort.SimulationResult                          what a simulation returns
    cohort.new_secure_session, cohort.Session        the admin session API
    cohort.FLClient                                  the REST API client
    cohort.FLModel                                   what a training script receives and sends
    cohort.CohortError, cohort.ErrorCode             the one error table
    cohort.JobStatus                                 the one job status enum

``simulate`` itself stays at ``from cohort.simulate import simulate``: ``cohort.simulate`` is
its package, and a function of the same name here would be replaced by the package whenever
it is imported.

A training script imports ``cohort.client`` (``import cohort.client as flare``) and so pays
only for what it uses: the names here load their package on first use (PEP 562), which keeps
``import cohort`` from pulling in the server, httpx or the admin API.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from cohort import lazy

if TYPE_CHECKING:  # the names as type checkers and editors see them
    from cohort.admin import Session, new_secure_session
    from cohort.client import FLModel
    from cohort.errors import CohortError, ErrorCode
    from cohort.recipes import (
        CrossSiteEvalRecipe,
        CyclicRecipe,
        FedAvgMRecipe,
        FedAvgRecipe,
        FedOptRecipe,
        FedProxRecipe,
        ScaffoldRecipe,
    )
    from cohort.rest import FLClient
    from cohort.simulate import SimulationResult
    from cohort.states import JobStatus

# name -> the package that defines it (one definition; this only re-exports).
_HOMES = {
    "CohortError": "cohort.errors",
    "ErrorCode": "cohort.errors",
    "JobStatus": "cohort.states",
    "FLModel": "cohort.client",
    "FedAvgRecipe": "cohort.recipes",
    "FedAvgMRecipe": "cohort.recipes",
    "FedOptRecipe": "cohort.recipes",
    "FedProxRecipe": "cohort.recipes",
    "ScaffoldRecipe": "cohort.recipes",
    "CyclicRecipe": "cohort.recipes",
    "CrossSiteEvalRecipe": "cohort.recipes",
    "SimulationResult": "cohort.simulate",
    "Session": "cohort.admin",
    "new_secure_session": "cohort.admin",
    "FLClient": "cohort.rest",
}

__all__ = [
    "CohortError",
    "CrossSiteEvalRecipe",
    "CyclicRecipe",
    "ErrorCode",
    "FLClient",
    "FLModel",
    "FedAvgMRecipe",
    "FedAvgRecipe",
    "FedOptRecipe",
    "FedProxRecipe",
    "JobStatus",
    "ScaffoldRecipe",
    "Session",
    "SimulationResult",
    "__version__",
    "new_secure_session",
]

try:
    __version__ = metadata.version("cohort")
except metadata.PackageNotFoundError:  # a source tree used without installing it
    __version__ = "0+unknown"


#: Each curated name loads its package on first use, then stays here.
__getattr__ = lazy.lazy_names(globals(), _HOMES)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
