"""Seed-shaped views of server state that several REST routes need: the status of the server,
of the current training, and of one client."""

from __future__ import annotations

import itertools
import os
import resource
from typing import Any

from cohort import __name__ as _pkg
from cohort.schemas.records import JobRecord
from cohort.schemas.rest import (
    ClientDetail,
    ClientList,
    ClientSummary,
    Health,
    RejectedUpdate,
    RoundMetrics,
    ServerStatus,
    TrainingStatus,
)
from cohort.server.api.deps import Services
from cohort.server.services.clients import ClientHistory
from cohort.server.services.events import iso, progress_of
from cohort.server.services.experiments import experiment_status
from cohort.workflows.validation import REJECTED

__all__ = ["client_detail", "client_list", "health", "server_status", "training_status", "version"]


def version() -> str:
    """The installed Cohort version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(_pkg)
    except PackageNotFoundError:
        return "0.0.0"


def _configs(svc: Services, job: JobRecord | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model_config, training_config) of an experiment: its descriptor's, else the job's."""
    if job is None:
        return {}, {}
    stored = svc.experiments.descriptor(job.job_id)
    if stored is not None:
        config = stored["config"]
        model = {**config.get("model_config", {}), "dataset": config["dataset_config"]["name"]}
        training = {
            **config.get("training_config", {}),
            "min_clients": config.get("policy_config", {}).get("min_clients"),
        }
        return model, training
    return {}, {"rounds": job.total_rounds, "min_clients": job.meta.get("min_clients")}


def server_status(svc: Services) -> ServerStatus:
    """GET /status."""
    job = svc.experiments.current()
    model, training = _configs(svc, job)
    active = job is not None and svc.experiments.active() is not None
    return ServerStatus(
        status="running" if active else "idle",
        version=version(),
        current_round=job.current_round if job else None,
        total_rounds=job.total_rounds if job else None,
        active_clients=len(svc.state.connected_sites()),
        registered_clients=len(svc.clients.known_ids()),
        experiment_id=job.job_id if job else None,
        model_config_=model,
        training_config=training,
        timestamp=iso(),
    )


def health(svc: Services) -> Health:
    """GET /health: uptime, resident memory and the process's average CPU use."""
    uptime = max(svc.state.clock() - svc.state.started, 1e-9)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = _rss_bytes() / (1024 * 1024)
    cpu = 100.0 * (usage.ru_utime + usage.ru_stime) / uptime
    return Health(
        status="healthy",
        timestamp=iso(),
        uptime=int(uptime),
        memory_usage=f"{rss_mb:.0f}MB",
        cpu_usage=f"{cpu:.0f}%",
    )


def _rss_bytes() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best we know
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def training_status(svc: Services) -> TrainingStatus:
    """GET /training/status: the active experiment, else the newest one, else idle."""
    job = svc.experiments.current()
    if job is None:
        return TrainingStatus(
            experiment_id=None,
            status="idle",
            job_status=None,
            current_round=None,
            total_rounds=None,
            progress=0.0,
            start_time=None,
            estimated_completion=None,
            selected_clients=[],
            round_metrics=None,
        )
    trail = svc.state.store.list_rounds(job.job_id)
    latest = next((r for r in reversed(trail) if r.metrics), None)
    durations = [b.created - a.created for a, b in itertools.pairwise(trail)]
    avg = sum(durations) / len(durations) if durations else None
    estimate = None
    if avg is not None and job.total_rounds and trail and job.end_time is None:
        estimate = iso(trail[-1].created + avg * max(job.total_rounds - trail[-1].round, 0))
    return TrainingStatus(
        experiment_id=job.job_id,
        status=experiment_status(job),
        job_status=str(job.status),
        current_round=job.current_round,
        total_rounds=job.total_rounds,
        progress=progress_of(job),
        start_time=iso(job.start_time) if job.start_time else None,
        estimated_completion=estimate,
        selected_clients=list(job.sites),
        rejected_updates=[
            RejectedUpdate(client_id=e["site"], round=e["round"], reason=e["reason"])
            for e in job.site_errors
            if e.get("kind") == REJECTED
        ],
        round_metrics=None
        if latest is None
        else RoundMetrics(
            accuracy=latest.metrics.get("accuracy"),
            loss=latest.metrics.get("loss"),
            round_duration=avg,
            participating_clients=latest.num_updates,
        ),
    )


def client_detail(svc: Services, client_id: str, history: ClientHistory) -> ClientDetail:
    """GET /clients/{client_id}."""
    job = svc.experiments.active()
    taking_part = job is not None and client_id in job.sites
    return ClientDetail(
        client_id=client_id,
        status=svc.clients.status(client_id),
        current_round=job.current_round if job is not None and taking_part else None,
        last_update=iso(history.last_update) if history.last_update else None,
        performance_metrics=svc.clients.performance(history),
        trust_score=history.trust_score,
        contribution_score=history.contribution_score,
    )


def client_list(svc: Services, status: str | None, rnd: int | None) -> ClientList:
    """GET /clients: every client; ``status`` keeps one status, ``rnd`` those that sent an
    update in that round of the current experiment."""
    histories = svc.clients.histories()
    job = svc.experiments.current()
    in_round: set[str] | None = None
    if rnd is not None:
        updates = svc.state.store.list_updates(job.job_id, rnd) if job else []
        in_round = {u.site for u in updates}
    entries = []
    for cid in svc.clients.known_ids():
        state = svc.clients.status(cid)
        if (status is not None and state != status) or (
            in_round is not None and cid not in in_round
        ):
            continue
        history = histories.get(cid)
        took_part = job is not None and cid in job.sites
        entries.append(
            ClientSummary(
                client_id=cid,
                status=state,
                current_round=job.current_round if job is not None and took_part else None,
                trust_score=history.trust_score if history else 1.0,
            )
        )
    return ClientList(
        clients=entries,
        total_count=len(entries),
        active_count=sum(1 for e in entries if e.status == "active"),
        timestamp=iso(),
    )
