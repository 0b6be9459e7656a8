"""Proof-of-concept workspaces: a whole project on one machine, ready in well under a second.

Layout made by :func:`prepare_poc`::

    <workspace>/
        poc.json                     the layout below, read back by load_poc
        <project>/
            ca/rootCA.pem, rootCA.key  the project CA (key 0600); never copied into kits
            prod_00/
                server/              server kit
                site-1/ .. site-N/   site kits (org "cohort")
                admin@cohort.local/  admin kit (role project_admin)
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cohort.errors import InvalidRequest
from cohort.provision.ca import validate_name
from cohort.provision.project import ProjectSpec, parse_project
from cohort.provision.provisioner import ProvisionResult, provision

__all__ = ["POC_FILE", "POC_ORG", "PocLayout", "free_port", "load_poc", "prepare_poc"]

POC_FILE: Final = "poc.json"
POC_ORG: Final = "cohort"
_HOST_RE: Final = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


@dataclass(frozen=True)
class PocLayout:
    """Where everything of a prepared POC workspace lives (all paths absolute)."""

    workspace: Path
    project_dir: Path
    prod_dir: Path
    server_kit: Path
    site_kits: dict[str, Path]
    admin_kit: Path
    port: int
    project: str = "example_project"
    host: str = "127.0.0.1"

    @classmethod
    def of(cls, workspace: Path, spec: ProjectSpec, made: ProvisionResult, admin: str) -> PocLayout:
        """The layout of a provisioned project, with ``admin``'s kit as the POC's admin kit."""
        return cls(
            workspace=workspace,
            project_dir=made.project_dir,
            prod_dir=made.prod_dir,
            server_kit=made.server_kit,
            site_kits=made.site_kits,
            admin_kit=made.admin_kits[admin],
            port=spec.server.port,
            project=spec.name,
            host=spec.server.host,
        )

    @property
    def ca_dir(self) -> Path:
        """The project CA's folder (``rootCA.pem`` and the 0600 ``rootCA.key``)."""
        return self.project_dir / "ca"

    @property
    def server_url(self) -> str:
        """The server's base URL the kits point at."""
        return f"https://{self.host}:{self.port}"


class _PocFile(BaseModel):
    """``poc.json``: the layout with paths relative to the workspace, so it can be moved."""

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    project: str
    host: str
    port: int = Field(ge=1, le=65535)
    project_dir: str
    prod_dir: str
    server_kit: str
    site_kits: dict[str, str]
    admin_kit: str


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (bind port 0, read it, close).

    Another process may take it before it is used; fine for a POC on one machine.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def prepare_poc(
    workspace: Path,
    n_sites: int,
    *,
    project: str = "example_project",
    host: str = "127.0.0.1",
    port: int | None = None,
    admin: str = "admin@cohort.local",
    force: bool = False,
) -> PocLayout:
    """Create a POC workspace: a project CA plus server, ``site-1..site-N`` and admin kits.

    Args:
        workspace: folder to prepare; it may exist, but must not already hold a POC.
        n_sites: number of site kits (at least 1).
        project: project name, also the folder under ``workspace``.
        host: the host the kits dial and the server certificate names.
        port: the server port; ``None`` picks a free one on 127.0.0.1.
        admin: name of the admin kit (role ``project_admin``).
        force: replace an existing POC workspace instead of refusing.

    Raises:
        InvalidRequest: bad arguments, or the workspace already holds a POC and ``force`` is
            false.
    """
    if n_sites < 1:
        raise InvalidRequest(
            f"a POC needs at least one site, got {n_sites}",
            hint="Pass n_sites >= 1.",
            details={"field": "n_sites", "value": n_sites},
        )
    validate_name(project, "project")
    validate_name(admin, "admin")
    _check_host(host)
    if port is not None and not 1 <= port <= 65535:
        raise InvalidRequest(
            f"invalid port {port}",
            hint="Pass a port in 1-65535, or none to pick a free one.",
            details={"field": "port", "value": port},
        )
    workspace = Path(workspace).expanduser().resolve()
    _clear_workspace(workspace, project, force=force)
    chosen_port = port if port is not None else free_port()

    # The same code path as `cohort provision`: a POC is a project file made up on the spot.
    spec = parse_project(
        {
            "name": project,
            "server": {"name": "server", "host": host, "port": chosen_port},
            "orgs": [{"name": POC_ORG}],
            "sites": [{"name": f"site-{i}", "org": POC_ORG} for i in range(1, n_sites + 1)],
            "users": [{"name": admin, "org": POC_ORG, "role": "project_admin"}],
        },
        source="poc",
    )
    layout = PocLayout.of(workspace, spec, provision(spec, workspace), admin)
    _write_poc_file(layout)
    return layout


def load_poc(workspace: Path) -> PocLayout:
    """Read back the layout :func:`prepare_poc` wrote to ``<workspace>/poc.json``.

    Raises:
        InvalidRequest: there is no readable ``poc.json`` in ``workspace``.
    """
    workspace = Path(workspace).expanduser().resolve()
    path = workspace / POC_FILE
    if not path.is_file():
        raise InvalidRequest(
            f"no POC workspace at {workspace} ({POC_FILE} missing)",
            hint="Prepare one first (cohort poc prepare), or pass the folder it was prepared in.",
            details={"path": str(path)},
        )
    try:
        data = _PocFile.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise InvalidRequest(
            f"invalid {path}: {exc.error_count()} problem(s)",
            hint="Prepare the POC workspace again with force.",
            details={"path": str(path)},
        ) from exc
    return PocLayout(
        workspace=workspace,
        project_dir=workspace / data.project_dir,
        prod_dir=workspace / data.prod_dir,
        server_kit=workspace / data.server_kit,
        site_kits={name: workspace / rel for name, rel in data.site_kits.items()},
        admin_kit=workspace / data.admin_kit,
        port=data.port,
        project=data.project,
        host=data.host,
    )


def _check_host(host: str) -> None:
    # Checked before anything is written: the host goes into every kit and the server's SAN.
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if not _HOST_RE.fullmatch(host):
        raise InvalidRequest(
            f"invalid host {host!r}",
            hint="Pass an IP address or a DNS name such as fl.example.org.",
            details={"field": "host", "value": host},
        )


def _clear_workspace(workspace: Path, project: str, *, force: bool) -> None:
    """Refuse (or with ``force``, remove) a workspace that already holds a POC."""
    marker, project_dir = workspace / POC_FILE, workspace / project
    if workspace.exists() and not workspace.is_dir():
        raise InvalidRequest(
            f"POC workspace {workspace} is not a folder",
            hint="Choose a folder path for the workspace.",
            details={"path": str(workspace)},
        )
    if not (marker.exists() or project_dir.exists()):
        return
    if not force:
        raise InvalidRequest(
            f"POC workspace {workspace} already exists",
            hint="Pass force (--force) to delete and prepare it again, or choose another folder.",
            details={"path": str(workspace)},
        )
    if marker.exists():
        # poc.json marks a folder we made: everything in it (kits, run-time state of the
        # server and sites) belongs to the old POC and goes with it.
        shutil.rmtree(workspace)
    else:
        # Not ours as a whole: remove only the project folder we are about to recreate.
        shutil.rmtree(project_dir)


def _write_poc_file(layout: PocLayout) -> None:
    def rel(path: Path) -> str:
        return path.relative_to(layout.workspace).as_posix()

    data = _PocFile(
        project=layout.project,
        host=layout.host,
        port=layout.port,
        project_dir=rel(layout.project_dir),
        prod_dir=rel(layout.prod_dir),
        server_kit=rel(layout.server_kit),
        site_kits={name: rel(path) for name, path in layout.site_kits.items()},
        admin_kit=rel(layout.admin_kit),
    )
    (layout.workspace / POC_FILE).write_text(data.model_dump_json(indent=2) + "\n")
