"""Workflows: the server-side logic of a job, run in the job's own server process."""

from cohort.workflows.base import RoundOutcome, Workflow, WorkflowContext, WorkflowFailed
from cohort.workflows.fedavg import FedAvg

#: Built-in workflows by the name a job's config_fed_server.json uses.
WORKFLOWS: dict[str, type[Workflow]] = {"fedavg": FedAvg}

__all__ = ["WORKFLOWS", "FedAvg", "RoundOutcome", "Workflow", "WorkflowContext", "WorkflowFailed"]
