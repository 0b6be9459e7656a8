"""The client API: what a site's training script imports (``import cohort.client as flare``)."""

from cohort.client.api import (
    get_job_id,
    get_site_name,
    init,
    is_command,
    is_evaluate,
    is_predict,
    is_running,
    is_submit_model,
    is_train,
    log,
    receive,
    send,
    shutdown,
    system_info,
)
from cohort.client.model import FLModel, ParamsType

__all__ = [
    "FLModel",
    "ParamsType",
    "get_job_id",
    "get_site_name",
    "init",
    "is_command",
    "is_evaluate",
    "is_predict",
    "is_running",
    "is_submit_model",
    "is_train",
    "log",
    "receive",
    "send",
    "shutdown",
    "system_info",
]
