"""``project.yml``: the participants of a federation, as provisioning reads them.

The file names the project, its server, its organisations, its sites and its admin users::

    api_version: 1
    name: myproj
    server: {name: server, host: fl.example.org, port: 8443, org: hospital-a}
    orgs: [{name: hospital-a}, {name: hospital-b}]
    sites:
      - {name: site-a1, org: hospital-a, resources: {gpus: 1}}
    users:
      - {name: admin@hospital-a.org, org: hospital-a, role: project_admin}

:func:`load_project` checks the shape with pydantic, then checks the whole file and reports
every defect at once (duplicate names, unknown org, unknown role), each naming where it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cohort.errors import InvalidRequest
from cohort.provision.ca import validate_name

__all__ = [
    "ADMIN_ROLES",
    "PROJECT_TEMPLATE",
    "OrgSpec",
    "ProjectSpec",
    "ServerSpec",
    "SiteSpec",
    "UserSpec",
    "load_project",
    "parse_project",
    "write_template",
]

#: The roles an admin user may have, strongest first (the policy's rules are per role).
ADMIN_ROLES: Final[tuple[str, ...]] = ("project_admin", "org_admin", "lead", "member")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSpec(_Strict):
    """Where the server listens: the host every kit dials and the one port it serves on."""

    name: str = "server"
    host: str = Field(min_length=1)
    port: int = Field(default=8443, ge=1, le=65535)
    org: str | None = Field(default=None, description="Defaults to the first organisation.")


class OrgSpec(_Strict):
    """An organisation: it owns sites and users."""

    name: str


class SiteSpec(_Strict):
    """A site (client) of an organisation, with optional free-form resources."""

    name: str
    org: str
    resources: dict[str, Any] = Field(default_factory=dict)


class UserSpec(_Strict):
    """An admin user; ``role`` is checked against :data:`ADMIN_ROLES` with the other defects."""

    name: str
    org: str
    role: str


class ProjectSpec(_Strict):
    """A whole ``project.yml``, already checked by :func:`parse_project`."""

    api_version: int = 1
    name: str
    server: ServerSpec
    orgs: list[OrgSpec] = Field(min_length=1)
    sites: list[SiteSpec] = Field(default_factory=list)
    users: list[UserSpec] = Field(default_factory=list)

    @property
    def server_org(self) -> str:
        """The server's org: as given, else the first organisation's."""
        return self.server.org or self.orgs[0].name


def _defects(spec: ProjectSpec) -> list[str]:
    """Every cross-field defect of ``spec``, each naming the entry it is in."""
    found: list[str] = []

    def bad_name(where: str, value: str) -> None:
        try:
            validate_name(value)
        except InvalidRequest:
            found.append(
                f"{where}: invalid name {value!r} (1-64 letters, digits or . _ @ + -, "
                "starting with a letter or digit)"
            )

    bad_name("name", spec.name)
    org_names = [o.name for o in spec.orgs]
    orgs = set(org_names)
    for i, org_name in enumerate(org_names):
        bad_name(f"orgs[{i}]", org_name)
        if org_names.index(org_name) != i:
            found.append(f"orgs[{i}]: duplicate org {org_name!r}")
    if spec.server.org is not None and spec.server.org not in orgs:
        found.append(f"server: unknown org {spec.server.org!r} (known: {sorted(orgs)})")
    # Kits are folders side by side in one prod_NN and names are certificate CNs: one
    # namespace for the server, the sites and the users.
    seen: dict[str, str] = {spec.server.name: "server"}
    bad_name("server", spec.server.name)
    entries: list[tuple[str, str, str]] = [
        (f"sites[{i}]", s.name, s.org) for i, s in enumerate(spec.sites)
    ]
    entries += [(f"users[{i}]", u.name, u.org) for i, u in enumerate(spec.users)]
    for where, name, owner in entries:
        bad_name(where, name)
        if name in seen:
            found.append(f"{where}: duplicate name {name!r} (already used by {seen[name]})")
        else:
            seen[name] = where
        if owner not in orgs:
            found.append(f"{where} ({name}): unknown org {owner!r} (known: {sorted(orgs)})")
    for i, user in enumerate(spec.users):
        if user.role not in ADMIN_ROLES:
            found.append(
                f"users[{i}] ({user.name}): unknown role {user.role!r} "
                f"(use one of: {', '.join(ADMIN_ROLES)})"
            )
    return found


def _invalid(source: str, defects: list[str]) -> InvalidRequest:
    return InvalidRequest(
        f"{source}: {len(defects)} problem(s): " + "; ".join(defects),
        hint="Fix each problem in the project file; `cohort provision --init` writes a template.",
        details={"path": source, "defects": defects},
    )


def parse_project(data: Any, source: str = "project.yml") -> ProjectSpec:
    """Validate an already-parsed project document.

    Raises:
        InvalidRequest: one error listing every defect in ``details["defects"]``.
    """
    try:
        spec = ProjectSpec.model_validate(data)
    except ValidationError as exc:
        raise _invalid(
            source,
            [
                f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ],
        ) from exc
    if defects := _defects(spec):
        raise _invalid(source, defects)
    return spec


def load_project(path: Path) -> ProjectSpec:
    """Read and validate ``project.yml`` at ``path``.

    Raises:
        InvalidRequest: the file is missing, is not YAML, or has defects (all named).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidRequest(
            f"project file not found: {path}",
            hint="Pass -p project.yml; `cohort provision --init` writes a template.",
            details={"path": str(path)},
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise _invalid(str(path), [f"not valid YAML: {exc}"]) from exc
    return parse_project(data, str(path))


PROJECT_TEMPLATE: Final = """\
# Cohort project file: who takes part in the federation.
# `cohort provision -p project.yml -w ./provisioned` makes a startup kit for each participant.
api_version: 1
name: example_project

server:
  name: server            # the server's kit folder and certificate name
  host: localhost         # the host name every kit dials; the server certificate names it
  port: 8443              # one port: sites (fleet API) and admins (admin API)
  org: coordinator    # optional; defaults to the first organisation

orgs:
  - name: coordinator
  - name: hospital-a
  - name: hospital-b

sites:
  - name: site-a1
    org: hospital-a
    resources: {gpus: 1}  # optional, free-form
  - name: site-a2
    org: hospital-a
  - name: site-b1
    org: hospital-b

users:                    # roles: project_admin, org_admin, lead, member
  - name: admin@coordinator.org
    org: coordinator
    role: project_admin
  - name: admin@hospital-a.org
    org: hospital-a
    role: org_admin
  - name: lead@hospital-a.org
    org: hospital-a
    role: lead
  - name: member@hospital-b.org
    org: hospital-b
    role: member
"""


def write_template(path: Path, *, force: bool = False) -> Path:
    """Write :data:`PROJECT_TEMPLATE` to ``path`` (refusing to overwrite unless ``force``).

    Raises:
        InvalidRequest: ``path`` exists and ``force`` is false.
    """
    path = Path(path).expanduser()
    if path.exists() and not force:
        raise InvalidRequest(
            f"{path} already exists",
            hint="Choose another path, or pass --force to overwrite it.",
            details={"path": str(path)},
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(PROJECT_TEMPLATE)
    tmp.replace(path)
    return path
