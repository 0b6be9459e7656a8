"""FedProx on the site: the proximal term ``mu/2 * ||w - w_global||^2`` and its gradient.

A FedProx job's train tasks carry ``mu`` (:func:`get_mu`). A numpy script adds
:func:`proximal_gradient` to its loss gradient at each local step; a PyTorch script adds
:func:`torch_proximal_term` to its loss before ``backward()``. The workflow side is
:mod:`cohort.workflows.fedprox`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cohort.client.model import FLModel

__all__ = ["MU_KEY", "get_mu", "proximal_gradient", "proximal_term", "torch_proximal_term"]

#: Key of ``mu`` in a train task's meta; the workflow sends it under this name.
MU_KEY = "fedprox_mu"


def get_mu(model: FLModel, default: float = 0.0) -> float:
    """``mu`` of the task that brought ``model`` (``default`` outside a FedProx job)."""
    return float(model.meta.get(MU_KEY, default))


def proximal_term(
    params: Mapping[str, np.ndarray], global_params: Mapping[str, np.ndarray], mu: float
) -> float:
    """``mu / 2 * sum ||params[k] - global_params[k]||^2`` over the tensors of ``params``."""
    total = 0.0
    for name, value in params.items():
        diff = np.asarray(value, dtype=np.float64) - np.asarray(global_params[name], np.float64)
        total += float(np.sum(diff * diff))
    return 0.5 * mu * total


def proximal_gradient(
    params: Mapping[str, np.ndarray], global_params: Mapping[str, np.ndarray], mu: float
) -> dict[str, np.ndarray]:
    """Gradient of :func:`proximal_term`: ``mu * (params[k] - global_params[k])``, to add to
    the loss gradient of each tensor (in that tensor's dtype)."""
    return {
        name: (mu * (np.asarray(value) - np.asarray(global_params[name]))).astype(
            np.asarray(value).dtype
        )
        for name, value in params.items()
    }


def torch_proximal_term(
    named_parameters: Iterable[tuple[str, Any]], global_params: Mapping[str, Any], mu: float
) -> Any:
    """The proximal term as a PyTorch scalar tensor, differentiable in the parameters.

    ``named_parameters`` is ``module.named_parameters()``; ``global_params`` maps the same
    names to the received global weights (numpy arrays or tensors). Needs PyTorch (the
    ``torch`` extra); parameters not in ``global_params`` (frozen, or not federated) are
    skipped.
    """
    torch: Any = importlib.import_module("torch")  # imported here: only PyTorch scripts call it

    total: Any = None
    for name, param in named_parameters:
        if name not in global_params:
            continue
        reference = torch.as_tensor(global_params[name], dtype=param.dtype, device=param.device)
        term = torch.sum((param - reference.detach()) ** 2)
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return 0.5 * mu * total
