"""Provision a project: one root CA, and a startup kit per participant in a new ``prod_NN``.

Layout under the workspace ``-w DIR``::

    <DIR>/<project>/
        ca/rootCA.pem, rootCA.key    made on the first run, reused by every later run
        prod_00/                     the first run's kits
            project.yml              the project file this run was made from
            server/  site-a1/  ...  admin@hospital-a.org/
        prod_01/                     the next run: new kits, same CA

Reusing the CA is what keeps the kits of earlier runs valid: every certificate chains to the
same root. ``cohort poc prepare`` provisions through :func:`provision` too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from cohort.errors import InvalidRequest
from cohort.provision.ca import CA_CERT_FILE, CertificateAuthority
from cohort.provision.kit import KitConfig, create_kit
from cohort.provision.project import ProjectSpec

__all__ = ["PROD_PREFIX", "ProvisionResult", "next_prod_dir", "provision"]

PROD_PREFIX: Final = "prod_"
_PROD_RE: Final = re.compile(r"^prod_(\d{2,})$")


@dataclass(frozen=True)
class ProvisionResult:
    """What one provisioning run made (all paths absolute)."""

    project_dir: Path
    ca_dir: Path
    prod_dir: Path
    server_kit: Path
    site_kits: dict[str, Path]
    admin_kits: dict[str, Path]
    ca_created: bool

    @property
    def kits(self) -> dict[str, Path]:
        """Every kit of this run by participant name."""
        return {self.server_kit.name: self.server_kit, **self.site_kits, **self.admin_kits}


def next_prod_dir(project_dir: Path) -> Path:
    """``prod_NN`` one past the highest existing one (``prod_00`` in a new project)."""
    numbers = [
        int(m.group(1))
        for p in (project_dir.iterdir() if project_dir.is_dir() else ())
        if p.is_dir() and (m := _PROD_RE.fullmatch(p.name))
    ]
    return project_dir / f"{PROD_PREFIX}{max(numbers, default=-1) + 1:02d}"


def _load_or_create_ca(ca_dir: Path, project: str) -> tuple[CertificateAuthority, bool]:
    if (ca_dir / CA_CERT_FILE).exists():
        ca = CertificateAuthority.load(ca_dir)
        return ca, False
    ca = CertificateAuthority.create(project)
    ca.save(ca_dir)
    return ca, True


def provision(spec: ProjectSpec, workspace: Path) -> ProvisionResult:
    """Make the kits of ``spec`` in a new ``prod_NN`` under ``<workspace>/<spec.name>/``.

    The project's CA is created on the first run and reused afterwards, so earlier kits stay
    valid. A run that fails part-way leaves its ``prod_NN`` incomplete but never touches the
    CA or earlier runs.

    Raises:
        InvalidRequest: the workspace is not a folder, or the CA cannot be read.
    """
    workspace = Path(workspace).expanduser().resolve()
    if workspace.exists() and not workspace.is_dir():
        raise InvalidRequest(
            f"workspace {workspace} is not a folder",
            hint="Pass a folder path with -w.",
            details={"path": str(workspace)},
        )
    project_dir = workspace / spec.name
    ca_dir = project_dir / "ca"
    ca, created = _load_or_create_ca(ca_dir, spec.name)
    prod_dir = next_prod_dir(project_dir)
    prod_dir.mkdir(parents=True)
    (prod_dir / "project.yml").write_text(
        yaml.safe_dump(spec.model_dump(exclude_none=True), sort_keys=False)
    )

    def kit(kind: str, name: str, org: str, role: str) -> Path:
        config = KitConfig.model_validate(
            {
                "kind": kind,
                "name": name,
                "org": org,
                "role": role,
                "project": spec.name,
                "server_host": spec.server.host,
                "server_port": spec.server.port,
            }
        )
        return create_kit(ca, prod_dir, config).dir

    server_kit = kit("server", spec.server.name, spec.server_org, "server")
    site_kits: dict[str, Path] = {}
    for site in spec.sites:
        site_kits[site.name] = kit("site", site.name, site.org, "site")
        if site.resources:
            (site_kits[site.name] / "local" / "resources.json").write_text(
                json.dumps(site.resources, indent=2) + "\n"
            )
    admin_kits = {u.name: kit("admin", u.name, u.org, u.role) for u in spec.users}
    return ProvisionResult(
        project_dir=project_dir,
        ca_dir=ca_dir,
        prod_dir=prod_dir,
        server_kit=server_kit,
        site_kits=site_kits,
        admin_kits=admin_kits,
        ca_created=created,
    )
