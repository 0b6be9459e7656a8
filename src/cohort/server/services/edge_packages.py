"""Compute packages of the edge API: a session's site app.

The built-in package (``builtin-tabular``) is the tabular softmax script; an uploaded package
(edgepackage.py: a zip of an app folder) is checked completely before it is stored, kept
with its sha256, and the newest upload is the active package. A session started while an
upload is active runs that package's script on the sites (:meth:`site_app`).
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cohort.edgepackage import unpack_package, validate_package
from cohort.errors import InvalidRequest, NotFound
from cohort.schemas.edge import Package
from cohort.server.services.edge_records import RecordLog
from cohort.server.services.events import iso
from cohort.server.services.recipe_jobs import SiteApp
from cohort.server.state import ServerState

__all__ = ["BUILTIN_PACKAGE", "EdgePackageService"]

#: The package sessions run when none was uploaded: the built-in tabular softmax script.
BUILTIN_PACKAGE = "builtin-tabular"
ROOT = "edge/packages"


class EdgePackageService:
    """The built-in and the uploaded compute packages."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.log = RecordLog(state, "packages")

    def all(self) -> list[Package]:
        """Every package, oldest first; the newest upload is active (else the built-in)."""
        uploads = self.log.all()
        builtin = Package(
            package_id=BUILTIN_PACKAGE,
            name="tabular softmax (built in)",
            description="Softmax regression on a scikit-learn bundled data set.",
            helper="numpyhelper",
            file_name="",
            checksum="",
            committed_at=iso(0),
            active=not uploads,
            builtin=True,
        )
        found = [builtin]
        for n, record in enumerate(uploads):
            found.append(Package(**record, active=n == len(uploads) - 1, builtin=False))
        return found

    def get(self, package_id: str) -> Package:
        """One package; NOT_FOUND for an unknown id."""
        for pkg in self.all():
            if pkg.package_id == package_id:
                return pkg
        raise NotFound(f"package {package_id!r} not found", details={"package_id": package_id})

    def active(self) -> Package:
        """The package sessions run now."""
        return next(p for p in self.all() if p.active)

    def add(self, data: bytes, file_name: str, helper: str, name: str, description: str) -> Package:
        """Check and store an uploaded package; it becomes the active one. A package that is
        not a valid one is refused with its job-archive error code, and nothing is stored."""
        if helper != "numpyhelper":
            raise InvalidRequest(
                f"helper {helper!r} is not available", hint="Cohort models travel as numpyhelper."
            )
        manifest = validate_package(data, self.state.config.max_job_bytes)
        package_id = uuid.uuid4().hex[:16]
        self.state.artifacts.write_bytes(f"{ROOT}/{package_id}", data)
        record = {
            "package_id": package_id,
            "name": name,
            "description": description,
            "helper": helper,
            "file_name": Path(file_name).name,
            "checksum": hashlib.sha256(data).hexdigest(),
            "entry": manifest.entry,
            "committed_at": iso(self.state.clock()),
        }
        self.log.append(record)
        return self.get(package_id)

    def file(self, pkg: Package) -> Path:
        """The stored archive of an uploaded package."""
        if pkg.builtin:
            raise NotFound("the built-in package has no archive to download")
        return self.state.artifacts.path(f"{ROOT}/{pkg.package_id}")

    @contextmanager
    def site_app(self, pkg: Package) -> Iterator[SiteApp | None]:
        """The unpacked package as a job's site app while the context lasts (None for the
        built-in one). It is checked again: the store is not trusted to hold what was sent."""
        if pkg.builtin:
            yield None
            return
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "package"
            data = self.file(pkg).read_bytes()
            manifest = unpack_package(data, root, self.state.config.max_job_bytes)
            script = root / manifest.entry
            yield SiteApp(
                script=script,
                extra_files=sorted(p for p in root.iterdir() if p != script),
                args=list(manifest.args),
                env=dict(manifest.env),
                meta={"edge_package": {"package_id": pkg.package_id, "checksum": pkg.checksum}},
            )
