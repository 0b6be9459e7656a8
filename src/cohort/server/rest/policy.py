"""Policy-aware client selection (``GET /clients/select``): the connected sites, minus those
whose trust score is under the experiment's ``trust_threshold`` (``policy_config``).

This is the first half of the policy engine: the trust score is the client's task history
(see ``cohort.server.services.clients``); update validation before aggregation and resource
requirements are not applied yet.
"""

from __future__ import annotations

from typing import Any

from cohort.schemas.rest import ClientSelection
from cohort.server.api.deps import Services

__all__ = ["select_clients"]


def _threshold(svc: Services) -> float:
    job = svc.experiments.current()
    stored = svc.experiments.descriptor(job.job_id) if job is not None else None
    if stored is None:
        return 0.0
    return float(stored["config"].get("policy_config", {}).get("trust_threshold", 0.0))


def select_clients(svc: Services, rnd: int | None, policy_check: bool) -> ClientSelection:
    """Who a round would use, with each candidate's policy result."""
    histories = svc.clients.histories()
    threshold = _threshold(svc) if policy_check else 0.0
    selected: list[str] = []
    excluded: list[str] = []
    reasons: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    for site in svc.state.connected_sites():
        history = histories.get(site.name)
        trust = history.trust_score if history else 1.0
        compliant = trust >= threshold
        results[site.name] = {
            "trust_score": trust,
            "compliance": compliant,
            "policies_applied": ["trust_threshold"] if policy_check else [],
        }
        if compliant:
            selected.append(site.name)
        else:
            excluded.append(site.name)
            reasons[site.name] = f"Trust score below threshold ({trust:.2f} < {threshold:.2f})"
    return ClientSelection(
        round=rnd,
        selected_clients=selected,
        policy_results=results,
        excluded_clients=excluded,
        exclusion_reasons=reasons,
    )
