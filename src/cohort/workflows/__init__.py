"""Workflows: the server-side logic of a job, run in the job's own server process."""

from cohort.workflows.base import RoundOutcome, Workflow, WorkflowContext, WorkflowFailed
from cohort.workflows.cross_site import CrossSiteEval
from cohort.workflows.cyclic import Cyclic
from cohort.workflows.fedavg import FedAvg
from cohort.workflows.fedopt import FedAdagrad, FedAdam, FedAvgM, FedOpt, FedYogi
from cohort.workflows.fedprox import FedProx
from cohort.workflows.predict import Command, Predict, Validate
from cohort.workflows.scaffold import Scaffold

#: Built-in workflows by the name a job's config_fed_server.json uses.
WORKFLOWS: dict[str, type[Workflow]] = {
    "fedavg": FedAvg,
    "fedavgm": FedAvgM,
    "fedopt": FedOpt,
    "fedadam": FedAdam,
    "fedyogi": FedYogi,
    "fedadagrad": FedAdagrad,
    "fedprox": FedProx,
    "scaffold": Scaffold,
    "cyclic": Cyclic,
    "cross_site_eval": CrossSiteEval,
    "predict": Predict,
    "command": Command,
    "validate": Validate,
}

__all__ = [
    "WORKFLOWS",
    "Command",
    "CrossSiteEval",
    "Cyclic",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedAvgM",
    "FedOpt",
    "FedProx",
    "FedYogi",
    "Predict",
    "RoundOutcome",
    "Scaffold",
    "Validate",
    "Workflow",
    "WorkflowContext",
    "WorkflowFailed",
]
