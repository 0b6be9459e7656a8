"""Cross-site model evaluation: after FedAvg training, every site evaluates every site's model
and the global model; the matrix goes into the job result as ``cross_site_eval.json``.

A site's model is its training result of the final round (a site that was not sampled in it,
or failed it, has none). Each model is sent to every site as a ``validate`` task whose meta
names the model's owner (``cross_site_model``), so an unchanged script that answers
``validate`` tasks with its metrics takes part. Memory is one model at a time; the server
sends ``1 + sites`` validate rounds.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from cohort.workflows.base import WorkflowContext
from cohort.workflows.fedavg import FedAvg, FedAvgArgs

__all__ = ["GLOBAL_MODEL", "MATRIX_FILE", "MODEL_KEY", "CrossSiteEval", "CrossSiteEvalArgs"]

#: The result file holding the matrix.
MATRIX_FILE = "cross_site_eval.json"
#: The owner name of the global model in the matrix.
GLOBAL_MODEL = "global"
#: Task meta key naming the model being evaluated.
MODEL_KEY = "cross_site_model"


class CrossSiteEvalArgs(FedAvgArgs):
    """FedAvg's arguments plus whether the sites' own models are evaluated too."""

    evaluate_site_models: bool = Field(
        default=True, description="Also evaluate each site's final-round model (else: global)."
    )


class CrossSiteEval(FedAvg):
    """FedAvg, then a cross-site evaluation of the global and the sites' models."""

    args_model = CrossSiteEvalArgs
    resumable = False  # keeps state beyond the global model (see Workflow.resumable)
    config: CrossSiteEvalArgs

    def after_training(self, ctx: WorkflowContext, model_key: str) -> None:
        """Evaluate each model on every site; store the matrix."""
        cfg = self.config
        models: list[tuple[str, str]] = [(GLOBAL_MODEL, model_key)]
        if cfg.evaluate_site_models:
            ordered = sorted(self.last_updates, key=lambda u: u.site)
            for n, update in enumerate(ordered, start=1):
                # Re-saved as a model: evaluators get the weights, not the owner's metrics.
                # Named by position: a site name may hold characters a file name should not.
                params = dict(ctx.read_update(update))
                models.append((update.site, ctx.save_model(f"cross-site-{n}", params)))
        matrix: dict[str, dict[str, dict[str, float] | None]] = {
            site: {owner: None for owner, _ in models} for site in sorted(ctx.sites)
        }
        failures: dict[str, dict[str, str]] = {}
        for i, (owner, key) in enumerate(models, start=1):
            ctx.set_progress(
                cfg.num_rounds,
                cfg.num_rounds,
                f"cross-site evaluation: model {i} of {len(models)} ({owner})",
            )
            outcome = self._validate(ctx, cfg.num_rounds, key, ctx.sites, {MODEL_KEY: owner})
            for update in outcome.updates:
                matrix[update.site][owner] = dict(update.metrics)
            if outcome.failures:
                failures[owner] = dict(outcome.failures)
        result: dict[str, Any] = {
            "models": [owner for owner, _ in models],
            "sites": sorted(ctx.sites),
            "matrix": matrix,  # evaluating site -> model owner -> metrics (null: no result)
            "failures": failures,  # model owner -> evaluating site -> why
        }
        ctx.save_result_file(MATRIX_FILE, json.dumps(result, indent=2).encode())
        ctx.log(f"cross-site evaluation: {len(models)} model(s) on {len(ctx.sites)} site(s)")
