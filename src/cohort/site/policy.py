"""A site's own policy: which jobs its agent refuses to run, whatever the server says.

The file is ``<site kit>/local/policy.json`` (``local/`` is the site's, never overwritten by
provisioning)::

    {"allow_custom_code": false, "refuse_roles": ["lead"], "refuse_submitters": []}

It is read again for every job, so an edit applies to the next job without a restart. A file
that cannot be read refuses every job: a broken policy must not silently allow everything.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["POLICY_FILE", "SitePolicy", "check_job", "custom_code_files", "load_site_policy"]

POLICY_FILE: Final = "policy.json"


class SitePolicy(BaseModel):
    """What a site refuses. The defaults refuse nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_custom_code: bool = Field(
        default=True,
        description="Run jobs that bring their own code (any file of the app that is not "
        "configuration, data, or one of Cohort's own built-in scripts).",
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


#: Files that cannot run by themselves: configuration and data the site's script parses.
#: Everything else in an app is code the job brings, whatever its folder: the site runs
#: ``config.script`` from anywhere in the app, and the script's folder is on ``sys.path``, so a
#: module beside it (``numpy.py``) would run too.
_DATA_SUFFIXES: Final = frozenset(
    {".json", ".safetensors", ".npy", ".npz", ".csv", ".tsv", ".txt", ".md", ".yaml", ".yml"}
)


@cache
def _builtin_script_digests() -> frozenset[str]:
    """sha256 of each script Cohort ships (the edge API's and REST API's built-in app)."""
    from cohort.recipes.scripts import TABULAR_SOFTMAX

    return frozenset({hashlib.sha256(TABULAR_SOFTMAX.read_bytes()).hexdigest()})


def custom_code_files(app_dir: Path) -> list[str]:
    """The files of an unpacked app that are code the job brings, relative to ``app_dir``.

    A file is not custom code when it is configuration or data (by suffix, see
    ``_DATA_SUFFIXES``) or byte for byte one of Cohort's built-in scripts; links count as code
    (an app is unpacked without any).
    """
    builtin = _builtin_script_digests()
    found = []
    for path in sorted(app_dir.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        if path.suffix.lower() in _DATA_SUFFIXES and not path.is_symlink():
            continue
        if (
            path.suffix == ".py"
            and not path.is_symlink()
            and hashlib.sha256(path.read_bytes()).hexdigest() in builtin
        ):
            continue
        found.append(path.relative_to(app_dir).as_posix())
    return found


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
    if not policy.allow_custom_code:
        code = custom_code_files(app_dir)
        if code:
            shown = ", ".join(code[:3]) + (f" and {len(code) - 3} more" if len(code) > 3 else "")
            return (
                f"the job brings custom code ({shown}) and allow_custom_code is false in "
                f"{POLICY_FILE}"
            )
    return None
