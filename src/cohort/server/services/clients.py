"""Clients of the REST API: the federation's sites, plus clients registered over REST.

A client id is a site name. ``POST /clients/register`` stores a registration (its config,
capabilities and location) as ``rest/clients/<id>.json``; a site that connects with a
certificate of that name is the same client. Scores come from the store's history:

* ``trust_score``: of the client's tasks that ended, the share that ended DONE with a result
  that was used (1.0 with no history yet). Failures, timeouts, losses and updates refused by
  validation before aggregation (``policies.update_validation``) lower it. It is computed
  from the store (tasks, and the jobs' ``rejected`` site errors), so it survives restarts.
* ``contribution_score``: over the jobs it took part in, its mean share of the samples that
  went into each round's aggregate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from cohort.errors import ErrorCode, NotFound
from cohort.schemas.rest import ClientRegistration, RegisterClient
from cohort.server.services.events import iso
from cohort.server.state import ServerState
from cohort.states import TaskStatus
from cohort.store import JobFilter
from cohort.workflows.validation import REJECTED

__all__ = ["ClientHistory", "ClientService", "client_not_registered"]

ClientState = Literal["active", "inactive", "registered"]

#: How many of the newest jobs the scores look at.
HISTORY_JOBS = 50
_ENDED_BAD = {TaskStatus.FAILED, TaskStatus.TIMEOUT}


def client_not_registered(client_id: str) -> NotFound:
    """CLIENT_NOT_REGISTERED for an unknown client id."""
    return NotFound(
        f"client {client_id!r} is not registered",
        ErrorCode.CLIENT_NOT_REGISTERED,
        hint="Register it with POST /api/v1/clients/register, or connect it as a site.",
        details={"client_id": client_id},
    )


@dataclass
class ClientHistory:
    """What the store says about one client over the newest jobs."""

    done: int = 0  # tasks that ended DONE, rejected ones included
    bad: int = 0  # tasks that FAILED or timed out
    rejected: int = 0  # DONE tasks whose update validation refused
    shares: list[float] = field(default_factory=list)
    last_update: float | None = None
    last_metrics: dict[str, float] = field(default_factory=dict)
    last_samples: int = 0
    rounds: dict[str, set[int]] = field(default_factory=dict)

    @property
    def trust_score(self) -> float:
        """Share of ended tasks whose result was accepted (1.0 without history)."""
        ended = self.done + self.bad
        return 1.0 if ended == 0 else round((self.done - self.rejected) / ended, 4)

    @property
    def contribution_score(self) -> float:
        """Mean share of each aggregated round's samples (0.0 without history)."""
        return 0.0 if not self.shares else round(sum(self.shares) / len(self.shares), 4)


class ClientService:
    """Register, read, list and score clients."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def _key(self, client_id: str) -> str:
        return f"rest/clients/{client_id}.json"

    def registration(self, client_id: str) -> ClientRegistration | None:
        """The stored registration of a client, or None."""
        arts = self.state.artifacts
        if not arts.exists(self._key(client_id)):
            return None
        return ClientRegistration.model_validate_json(arts.path(self._key(client_id)).read_text())

    def register(self, req: RegisterClient, assigned_round: int | None) -> ClientRegistration:
        """Store (or refresh) a registration; the registration id stays the same."""
        earlier = self.registration(req.client_id)
        record = ClientRegistration(
            client_id=req.client_id,
            registration_id=earlier.registration_id if earlier else f"reg_{uuid.uuid4().hex[:12]}",
            status="registered",
            assigned_round=assigned_round,
            client_config=req.client_config,
            capabilities=req.capabilities,
            location=req.location,
            timestamp=iso(),
        )
        self.state.artifacts.write_bytes(
            self._key(req.client_id), record.model_dump_json().encode()
        )
        return record

    def known_ids(self) -> list[str]:
        """Every site name and registered client id, sorted."""
        ids = {s.name for s in self.state.store.list_sites()}
        root = self.state.artifacts.path("rest/clients")
        if root.is_dir():
            ids |= {p.stem for p in root.glob("*.json")}
        return sorted(ids)

    def require(self, client_id: str) -> None:
        """CLIENT_NOT_REGISTERED unless the id is a site or a registered client."""
        if client_id not in self.known_ids():
            raise client_not_registered(client_id)

    def status(self, client_id: str) -> ClientState:
        """active (a connected site), inactive (a site not connected), or registered (over
        REST only, never connected)."""
        sites = {s.name: s for s in self.state.store.list_sites()}
        site = sites.get(client_id)
        if site is None:
            return "registered"
        return "active" if self.state.is_connected(site) else "inactive"

    def histories(self) -> dict[str, ClientHistory]:
        """Every client's history over the newest jobs (one pass over them)."""
        found: dict[str, ClientHistory] = {}
        store = self.state.store
        for job in store.list_jobs(JobFilter(reverse=True, limit=HISTORY_JOBS)):
            train: set[str] = set()
            refused = {e.get("task_id") for e in job.site_errors if e.get("kind") == REJECTED}
            for task in store.list_tasks(job.job_id):
                h = found.setdefault(task.site, ClientHistory())
                if task.status == TaskStatus.DONE:
                    h.done += 1
                    h.rejected += task.task_id in refused
                elif task.status in _ENDED_BAD:
                    h.bad += 1
                if task.name == "train":
                    train.add(task.task_id)
            totals: dict[int, int] = {}
            # Only training updates: they are what aggregation weighs and what sites trained.
            updates = [
                u
                for u in store.list_updates(job.job_id)
                if u.task_id in train and u.task_id not in refused
            ]
            for u in updates:
                totals[u.round] = totals.get(u.round, 0) + u.num_samples
            for u in updates:
                h = found.setdefault(u.site, ClientHistory())
                h.rounds.setdefault(job.job_id, set()).add(u.round)
                if totals[u.round]:
                    h.shares.append(u.num_samples / totals[u.round])
                if h.last_update is None or u.received > h.last_update:
                    h.last_update, h.last_metrics = u.received, dict(u.metrics)
                    h.last_samples = u.num_samples
        return found

    def performance(self, history: ClientHistory) -> dict[str, Any]:
        """The seed's performance_metrics from the client's newest training update."""
        metrics = history.last_metrics
        result: dict[str, Any] = {"data_size": float(history.last_samples)}
        if "accuracy" in metrics:
            result["local_accuracy"] = metrics["accuracy"]
        for name, value in metrics.items():
            result.setdefault(name, value)
        return result
