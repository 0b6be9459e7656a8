"""Policy-aware client selection over REST (``GET /clients/select``): the connected sites, as
the current experiment's policies (its job's ``policies``: ``trust_threshold`` and
``resource_requirements``) judge them. The verdicts are the scheduler's
(:func:`cohort.server.selection.select_sites`); without ``policy_check`` every connected site
is selected and only its trust score is shown.
"""

from __future__ import annotations

from cohort.schemas.job import JobMeta
from cohort.schemas.policy import JobPolicies
from cohort.schemas.rest import ClientSelection
from cohort.server.api.deps import Services
from cohort.server.selection import select_sites

__all__ = ["select_clients"]


def _policies(svc: Services) -> JobPolicies:
    job = svc.experiments.current()
    if job is None:
        return JobPolicies()
    return JobMeta.model_validate(job.meta).policies


def select_clients(svc: Services, rnd: int | None, policy_check: bool) -> ClientSelection:
    """Who a round would use, with each candidate's policy result."""
    candidates = [site.name for site in svc.state.connected_sites()]
    histories = svc.clients.histories()
    if policy_check:
        found = select_sites(svc.state, candidates, _policies(svc), histories)
    else:
        found = select_sites(svc.state, candidates, JobPolicies(), histories)
        for result in found.results.values():
            result["policies_applied"] = []
    return ClientSelection(
        round=rnd,
        selected_clients=found.selected,
        policy_results=found.results,
        excluded_clients=found.excluded,
        exclusion_reasons=found.reasons,
    )
