"""Custom commands of the edge API: a command is a job of the ``command`` workflow that sends
one ``command`` task to each chosen site, with the command's type and parameters in the task's
meta; each site's script answers it (the built-in app knows ``Custom_data_summary``).

A command keeps a descriptor at ``edge/commands/<id>.json``; its job id is ``command-<id>``,
so ``cohort job list`` shows it and sessions leave it out. A blocking run waits (on the job's
change notifications, no polling) until the job ends or the timeout passes.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from cohort.errors import InvalidRequest, NotFound
from cohort.recipes.predict import CommandRecipe
from cohort.schemas.edge import CommandRecord, RunCommand
from cohort.schemas.records import JobRecord
from cohort.server.services.events import iso
from cohort.server.services.jobs import JobService
from cohort.server.services.recipe_jobs import TabularJob
from cohort.server.state import ServerState
from cohort.states import JOB_TERMINAL, JobStatus
from cohort.tls import Identity

__all__ = ["JOB_PREFIX", "CommandService"]

JOB_PREFIX = "command-"
ROOT = "edge/commands"
DEFAULT_TIMEOUT = 120.0


class CommandService:
    """Run custom commands on sites and read their results."""

    def __init__(self, state: ServerState, jobs: JobService) -> None:
        self.state = state
        self.jobs = jobs

    async def run(self, who: Identity, req: RunCommand, blocking: bool) -> CommandRecord:
        """Send the command to ``client_ids`` (default: every connected site)."""
        if not req.command_type.startswith("Custom_"):
            raise InvalidRequest(
                f"{req.command_type!r} is not a custom command", hint="Name it Custom_<name>."
            )
        connected = [s.name for s in self.state.connected_sites()]
        sites = req.client_ids or connected
        unknown = sorted(set(sites) - set(connected))
        if unknown or not sites:
            raise InvalidRequest(
                f"clients not connected: {unknown}" if unknown else "no client is connected",
                details={"connected": connected},
            )
        command_id = uuid.uuid4().hex[:16]
        timeout = req.timeout or DEFAULT_TIMEOUT
        archive = TabularJob(
            name=req.command_type,
            dataset="breast_cancer",
            rounds=1,
            min_clients=len(sites),
            shares=max(len(connected), 1),
            epochs=1,
            lr=0.1,
            task_timeout=timeout,
            sites=sites,
            recipe=CommandRecipe,
            workflow_args={
                "task_meta": {"command": req.command_type, "parameters": req.parameters}
            },
        ).archive(self.state.config.max_job_bytes)
        record = {
            "command_id": command_id,
            "command_type": req.command_type,
            "parameters": req.parameters,
            "client_ids": sites,
            "created": self.state.clock(),
        }
        self.state.artifacts.write_bytes(f"{ROOT}/{command_id}.json", json.dumps(record).encode())
        job, _ = self.jobs.submit(who, archive, job_id=f"{JOB_PREFIX}{command_id}")
        deadline = time.monotonic() + timeout + 60  # the job's own start-up on top
        while blocking and job.status not in JOB_TERMINAL and time.monotonic() < deadline:
            job = await self.jobs.wait_for_change(
                job.job_id, job.version, deadline - time.monotonic()
            )
        return self.get(command_id)

    async def stop(self, who: Identity, command_id: str) -> CommandRecord:
        """Abort a running command's job (its sites' tasks end); a finished one stays as is."""
        self.get(command_id)
        await self.jobs.abort(f"{JOB_PREFIX}{command_id}", reason=f"command stopped by {who.name}")
        return self.get(command_id)

    def _view(self, record: dict[str, Any]) -> CommandRecord:
        job_id = f"{JOB_PREFIX}{record['command_id']}"
        try:
            job: JobRecord | None = self.state.store.get_job(job_id)
        except NotFound:  # the job was deleted (cohort job delete)
            job = None
        updates = self.state.store.list_updates(job_id) if job is not None else []
        results = {u.site: u.metrics for u in updates}
        status: Literal["Running", "Finished", "Failed"] = "Failed"
        if job is not None and job.status not in JOB_TERMINAL:
            status = "Running"
        elif job is not None and job.status == JobStatus.FINISHED_OK:
            status = "Finished"
        return CommandRecord(
            correlation_id=record["command_id"],
            command_type=record["command_type"],
            status=status,
            parameters=record["parameters"],
            client_ids=record["client_ids"],
            result=results,
            message=job.status_reason if job is not None else "its job was deleted",
            committed_at=iso(record["created"]),
        )

    def all(self) -> list[CommandRecord]:
        """Every command, oldest first."""
        root = self.state.artifacts.path(ROOT)
        if not root.is_dir():
            return []
        found = [self._view(json.loads(p.read_text())) for p in root.glob("*.json")]
        return sorted(found, key=lambda c: c.committed_at)

    def get(self, command_id: str) -> CommandRecord:
        """One command; NOT_FOUND for an unknown id."""
        key = f"{ROOT}/{command_id}.json"
        if not command_id.isalnum() or not self.state.artifacts.exists(key):
            raise NotFound(f"command {command_id!r} not found", details={"command_id": command_id})
        return self._view(json.loads(self.state.artifacts.path(key).read_text()))
