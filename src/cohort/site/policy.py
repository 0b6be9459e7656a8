"""A site's own policy: which jobs its agent refuses to run, whatever the server says.

The file is ``<site kit>/local/policy.json`` (``local/`` is the site's, never overwritten by
provisioning)::

    {"allow_custom_code": false, "refuse_roles": ["lead"], "refuse_submitters": []}

It is read again for every job, so an edit applies to the next job without a restart. A file
that cannot be read refuses every job: a broken policy must not silently allow everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["POLICY_FILE", "SitePolicy", "check_job", "load_site_policy"]

POLICY_FILE: Final = "policy.json"


class SitePolicy(BaseModel):
    """What a site refuses. The defaults refuse nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_custom_code: bool = Field(
        default=True, description="Run jobs that bring their own code (files under custom/)."
    )
    refuse_roles: list[str] = Field(default_factory=list, description="Submitter roles refused.")
    refuse_submitters: list[str] = Field(default_factory=list, description="Submitters refused.")


def load_site_policy(local_dir: Path) -> SitePolicy:
    """The policy in ``local_dir/policy.json``, or the default when there is none.

    Raises:
        ValueError: the file exists but is not a valid policy (the message says why).
    """
    path = local_dir / POLICY_FILE
    if not path.is_file():
        return SitePolicy()
    try:
        return SitePolicy.model_validate_json(path.read_bytes())
    except (ValidationError, OSError) as exc:
        raise ValueError(f"invalid site policy {path}: {exc}") from exc


def _has_custom_code(app_dir: Path) -> bool:
    custom = app_dir / "custom"
    return custom.is_dir() and any(p.is_file() for p in custom.rglob("*"))


def check_job(local_dir: Path, app_dir: Path, submitter: str, role: str) -> str | None:
    """Why this site refuses the job whose app is unpacked in ``app_dir``, or None to run it."""
    try:
        policy = load_site_policy(local_dir)
    except ValueError as exc:
        return f"{exc}; every job is refused until it is fixed"
    if role and role in policy.refuse_roles:
        return f"jobs submitted by role {role} are refused (refuse_roles in {POLICY_FILE})"
    if submitter in policy.refuse_submitters:
        return f"jobs submitted by {submitter} are refused (refuse_submitters in {POLICY_FILE})"
    if not policy.allow_custom_code and _has_custom_code(app_dir):
        return f"the job brings custom code and allow_custom_code is false in {POLICY_FILE}"
    return None
