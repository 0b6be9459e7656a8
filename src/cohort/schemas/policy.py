"""A job's policies (``policies`` in meta.json): which updates aggregation accepts and which
sites client selection takes.

One schema for every way a job is made: a job folder's meta.json, a recipe's ``policies``
parameter, and a REST experiment's ``policy_config`` (which the experiment service maps onto
this). Defaults keep every update that is well-formed and finite, and every site.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobPolicies", "ResourceRequirements", "UpdateValidation"]


class UpdateValidation(BaseModel):
    """Checks every training update passes before it is aggregated (see docs/policies.md)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True,
        description="false aggregates updates unchecked (names, shapes and dtypes are still "
        "refused at upload on a real federation).",
    )
    check_finite: bool = Field(default=True, description="Refuse updates holding NaN or inf.")
    max_norm: float | None = Field(
        default=None,
        gt=0,
        description="Largest L2 norm (over all tensors) of the update's change to the global "
        "model it was trained from: update minus global for a FULL update, the update itself "
        "for a DIFF. null: no bound.",
    )
    norm_of: Literal["delta"] = Field(
        default="delta",
        description="What max_norm measures; only the change to the global model, because a "
        "bound on the weights themselves would also bound a model that legitimately grows.",
    )


class ResourceRequirements(BaseModel):
    """What a site must report at its heartbeat to be selected (None: no requirement)."""

    model_config = ConfigDict(extra="forbid")

    min_cpus: int | None = Field(default=None, ge=1, description="CPUs the site reports.")
    min_memory_gb: float | None = Field(
        default=None, gt=0, description="Total memory of the site's host, in GiB."
    )
    min_gpus: int | None = Field(default=None, ge=1, description="GPUs the site reports.")

    def any(self) -> bool:
        """Whether any requirement is set."""
        return any(v is not None for v in (self.min_cpus, self.min_memory_gb, self.min_gpus))


class JobPolicies(BaseModel):
    """``policies`` of a job's meta.json."""

    model_config = ConfigDict(extra="forbid")

    update_validation: UpdateValidation = Field(default_factory=UpdateValidation)
    trust_threshold: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Sites whose trust score (docs/policies.md) is below this are not selected.",
    )
    resource_requirements: ResourceRequirements = Field(default_factory=ResourceRequirements)
