"""Compute packages of the edge API: a zip of a site app folder that sessions run.

A package is a zip archive of a folder (or of its files) holding the site script, which uses
``cohort.client`` as any job's site script does, and whatever it imports::

    my-package/
      cohort-package.json    optional: {"entry": "train.py", "args": [...], "env": {...}}
      train.py               the entry script (the default entry)
      helpers.py             anything else the script needs

The archive passes the same hostile-archive checks as a job archive (jobfolder.py: size, zip
bombs, names that escape, links, damaged entries), and the same error codes. A session that
runs it copies every file of the package into its job's ``app/custom/``, so a site whose
policy refuses custom code refuses the session too.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cohort.errors import ErrorCode, InvalidRequest
from cohort.jobfolder import checked_zip_names, read_json_entry, strip_wrapper, unpack_checked_zip

__all__ = ["DEFAULT_ENTRY", "MANIFEST", "PackageManifest", "unpack_package", "validate_package"]

#: The optional manifest at the package's root.
MANIFEST = "cohort-package.json"
#: The entry script of a package without a manifest.
DEFAULT_ENTRY = "train.py"


class PackageManifest(BaseModel):
    """``cohort-package.json``: the script a site runs and its arguments."""

    model_config = ConfigDict(extra="forbid")

    entry: str = Field(
        default=DEFAULT_ENTRY,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\.py$",
        description="The site script: a .py file at the package's root.",
    )
    args: list[str] = Field(default_factory=list, max_length=1000, description="Its arguments.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")


def _defect(message: str, hint: str = "") -> InvalidRequest:
    return InvalidRequest(message, code=ErrorCode.INVALID_JOB_DEFINITION, hint=hint)


def _check(data: bytes, max_bytes: int) -> tuple[PackageManifest, str]:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _defect(
            "the package is not a zip archive",
            hint="Zip the app folder (zip -r package.zip my-package/); see docs/edge.md.",
        )
    names = checked_zip_names(data, max_bytes)
    prefix = strip_wrapper(names, MANIFEST) or strip_wrapper(names, DEFAULT_ENTRY)
    files = {n[len(prefix) :] for n in names if n.startswith(prefix)}
    manifest = PackageManifest()
    if MANIFEST in files:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            try:
                manifest = PackageManifest.model_validate(
                    read_json_entry(zf, prefix + MANIFEST, max_bytes)
                )
            except (ValueError, ValidationError) as exc:
                raise _defect(f"{MANIFEST} is invalid: {exc}") from exc
    if manifest.entry not in files:
        raise _defect(
            f"the package has no entry script {manifest.entry!r} at its root",
            hint=f"Put {DEFAULT_ENTRY} at the root, or name the script in {MANIFEST}.",
        )
    return manifest, prefix


def validate_package(data: bytes, max_bytes: int) -> PackageManifest:
    """Check an uploaded package completely; its manifest (the default one when it has none).

    Raises:
        InvalidRequest: ``INVALID_JOB_DEFINITION`` (not a zip, no entry script, a bad
            manifest), ``UNSAFE_PATH`` or ``JOB_TOO_LARGE``, as for a job archive.
    """
    return _check(data, max_bytes)[0]


def unpack_package(data: bytes, dest: Path, max_bytes: int) -> PackageManifest:
    """Check a package and unpack its files (without a wrapper folder) under ``dest``."""
    manifest, prefix = _check(data, max_bytes)
    unpack_checked_zip(data, dest, prefix, max_bytes)
    return manifest
