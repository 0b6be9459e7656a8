"""Policy-aware client selection: which of the candidate sites a job's ``policies`` let take
part, and why the others may not.

Two policies, each applied only when the job sets it:

* ``trust_threshold``: the site's trust score (``ClientService.histories``, from the store)
  must be at least the threshold;
* ``resource_requirements``: the CPUs, memory and GPUs the site's newest heartbeat reported
  must meet the minimums; a site that reported nothing is excluded (it cannot show it has them).

The scheduler uses this when it dispatches a job (so an excluded site gets no task of it) and
``GET /api/v1/clients/select`` shows the same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cohort.schemas.fleet import SiteCapacity
from cohort.schemas.policy import JobPolicies, ResourceRequirements
from cohort.server.services.clients import ClientHistory, ClientService
from cohort.server.state import ServerState

__all__ = ["GIB", "Selection", "capacity_shortfalls", "select_sites"]

GIB = 1024**3
TRUST = "trust_threshold"
RESOURCES = "resource_requirements"


@dataclass
class Selection:
    """The verdict on each candidate, in the seed's shape."""

    selected: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def capacity_shortfalls(need: ResourceRequirements, has: SiteCapacity | None) -> list[str]:
    """What a site lacks for ``need`` (empty when it qualifies)."""
    if not need.any():
        return []
    if has is None:
        return ["Reported no resources at its heartbeat"]
    short: list[str] = []
    if need.min_cpus is not None and has.cpu_count < need.min_cpus:
        short.append(f"CPUs below requirement ({has.cpu_count} < {need.min_cpus})")
    memory = has.memory_total / GIB
    if need.min_memory_gb is not None and memory < need.min_memory_gb:
        short.append(f"Memory below requirement ({memory:.1f} GiB < {need.min_memory_gb:g} GiB)")
    if need.min_gpus is not None and has.gpu_count < need.min_gpus:
        short.append(f"GPUs below requirement ({has.gpu_count} < {need.min_gpus})")
    return short


def select_sites(
    state: ServerState,
    candidates: list[str],
    policies: JobPolicies,
    histories: dict[str, ClientHistory] | None = None,
) -> Selection:
    """Apply ``policies`` to ``candidates`` (kept in their order). ``histories`` defaults to
    the store's; pass them when they are already at hand."""
    need = policies.resource_requirements
    applied = [TRUST] + ([RESOURCES] if need.any() else [])
    if histories is None:
        histories = ClientService(state).histories() if policies.trust_threshold > 0 else {}
    found = Selection()
    for site in candidates:
        history = histories.get(site)
        trust = history.trust_score if history else 1.0
        why: list[str] = []
        if trust < policies.trust_threshold:
            why.append(
                f"Trust score below threshold ({trust:.2f} < {policies.trust_threshold:.2f})"
            )
        why += capacity_shortfalls(need, state.site_capacity.get(site))
        result: dict[str, Any] = {
            "trust_score": trust,
            "compliance": not why,
            "policies_applied": applied,
        }
        if history is not None:
            result["history"] = {
                "accepted": history.done - history.rejected,
                "rejected": history.rejected,
                "failed_or_timed_out": history.bad,
            }
        found.results[site] = result
        if why:
            found.excluded.append(site)
            found.reasons[site] = "; ".join(why)
        else:
            found.selected.append(site)
    return found
