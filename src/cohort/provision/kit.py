"""Startup kits: the folder a participant needs to join a project.

Layout of one kit (``<prod_dir>/<name>/``)::

    startup/
        cert.pem      the participant's certificate (CN=name, O=org, OU=role)
        key.pem       its private key, mode 0600
        rootCA.pem    the project root CA, to verify the other side
        kit.json      a KitConfig: who this is and where the server listens
        start.sh      server and site kits: starts the process with this kit
        stop.sh       server and site kits: stops the process start.sh started
    local/            site-local settings, never overwritten by Cohort
    transfer/         admin kits only: where job folders are staged and results land
    README.txt        what the kit is and how to use it
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cohort.errors import InvalidRequest
from cohort.provision.ca import (
    PARTICIPANT_VALID_DAYS,
    CertificateAuthority,
    Role,
    validate_name,
)

__all__ = [
    "KIT_FILE",
    "Kit",
    "KitConfig",
    "KitKind",
    "create_kit",
    "load_kit",
]

KitKind = Literal["server", "site", "admin"]

KIT_FILE: Final = "kit.json"
_ADMIN_ROLES: Final = frozenset({"project_admin", "org_admin", "lead", "member"})
_LOAD_HINT: Final = (
    "Pass the kit folder made by provisioning (e.g. prod_00/site-1), or its startup/ folder; "
    "re-provision if files were deleted."
)


class KitConfig(BaseModel):
    """The contents of ``startup/kit.json``: who the kit belongs to and where the server is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: KitKind
    name: str
    org: str
    role: Role
    project: str
    server_host: str = Field(min_length=1)
    server_port: int = Field(ge=1, le=65535)

    @model_validator(mode="after")
    def _role_matches_kind(self) -> Self:
        # The role ends up in the certificate the server authorizes on, so a kit whose kind and
        # role disagree (a "site" with an admin role) is refused rather than guessed at.
        expected = {"server": {"server"}, "site": {"site"}, "admin": _ADMIN_ROLES}[self.kind]
        if self.role not in expected:
            raise ValueError(
                f"role {self.role!r} does not fit a {self.kind} kit "
                f"(expected one of {sorted(expected)})"
            )
        return self


@dataclass(frozen=True)
class Kit:
    """A loaded startup kit: its configuration and the paths of its TLS files."""

    config: KitConfig
    dir: Path
    cert: Path
    key: Path
    ca: Path

    @property
    def server_url(self) -> str:
        """The server's base URL, ``https://{server_host}:{server_port}``."""
        host = self.config.server_host
        if ":" in host and not host.startswith("["):  # a bare IPv6 literal needs brackets
            host = f"[{host}]"
        return f"https://{host}:{self.config.server_port}"

    @property
    def startup_dir(self) -> Path:
        """The kit's ``startup/`` folder."""
        return self.dir / "startup"

    @property
    def local_dir(self) -> Path:
        """The kit's ``local/`` folder (site-local settings)."""
        return self.dir / "local"

    @property
    def transfer_dir(self) -> Path:
        """The kit's ``transfer/`` folder (present in admin kits only)."""
        return self.dir / "transfer"


def load_kit(path: Path) -> Kit:
    """Load the kit at ``path``: the kit folder itself or its ``startup/`` folder.

    Raises:
        InvalidRequest: the folder, a kit file, or a valid ``kit.json`` is missing; the message
            names what is missing.
    """
    path = Path(path).expanduser()
    kit_dir = path.parent if path.name == "startup" and not (path / "startup").is_dir() else path
    if not kit_dir.is_dir():
        raise InvalidRequest(
            f"startup kit not found: {path}", hint=_LOAD_HINT, details={"path": str(path)}
        )
    startup = kit_dir / "startup"
    files = {name: startup / name for name in (KIT_FILE, "cert.pem", "key.pem", "rootCA.pem")}
    for name, file in files.items():
        if not file.is_file():
            raise InvalidRequest(
                f"startup kit {kit_dir} is missing startup/{name}",
                hint=_LOAD_HINT,
                details={"path": str(file), "missing": name},
            )
    try:
        config = KitConfig.model_validate_json(files[KIT_FILE].read_bytes())
    except ValidationError as exc:
        raise InvalidRequest(
            f"invalid {files[KIT_FILE]}: {exc.error_count()} problem(s): "
            + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()
            ),
            hint="kit.json is written by provisioning; re-provision rather than edit it.",
            details={"path": str(files[KIT_FILE])},
        ) from exc
    return Kit(
        config=config,
        dir=kit_dir,
        cert=files["cert.pem"],
        key=files["key.pem"],
        ca=files["rootCA.pem"],
    )


def create_kit(
    ca: CertificateAuthority,
    prod_dir: Path,
    config: KitConfig,
    *,
    valid_days: int = PARTICIPANT_VALID_DAYS,
) -> Kit:
    """Issue a certificate for ``config`` and write its kit to ``<prod_dir>/<config.name>/``.

    A server kit's certificate names ``config.server_host`` (besides localhost and 127.0.0.1)
    so clients dialing that host can verify it.

    Raises:
        InvalidRequest: a bad name/org/project, or the kit folder already exists.
    """
    validate_name(config.name, "name")
    validate_name(config.project, "project")
    kit_dir = prod_dir / config.name
    if kit_dir.exists():
        raise InvalidRequest(
            f"startup kit already exists: {kit_dir}",
            hint="Use a new prod folder, or remove the old kit first.",
            details={"path": str(kit_dir)},
        )
    hosts = (config.server_host,) if config.kind == "server" else ()
    issued = ca.issue(
        config.name, config.org, config.role, server_hosts=hosts, valid_days=valid_days
    )
    startup = kit_dir / "startup"
    startup.mkdir(parents=True)
    (kit_dir / "local").mkdir()
    if config.kind == "admin":
        (kit_dir / "transfer").mkdir()
    issued.write(startup / "cert.pem", startup / "key.pem")
    (startup / "rootCA.pem").write_bytes(ca.cert_pem)
    (startup / KIT_FILE).write_text(json.dumps(config.model_dump(), indent=2) + "\n")
    if config.kind != "admin":
        for script, text in (("start.sh", _START_SH), ("stop.sh", _STOP_SH)):
            path = startup / script
            path.write_text(text.format(kind=config.kind))
            path.chmod(0o755)
    (kit_dir / "README.txt").write_text(_readme(config))
    return load_kit(kit_dir)


_START_SH: Final = """\
#!/bin/sh
# Start the Cohort {kind} with this startup kit (the folder above this script), in the
# foreground. Its workspace is ../workspace unless --workspace is passed. exec keeps this
# shell's pid, so the pid written to local/{kind}.pid is the {kind}'s own (stop.sh reads it).
kit="$(cd "$(dirname "$0")/.." && pwd)"
echo $$ > "$kit/local/{kind}.pid"
exec cohort {kind} start --kit "$kit" --workspace "$kit/workspace" "$@"
"""

_STOP_SH: Final = """\
#!/bin/sh
# Stop the Cohort {kind} that start.sh started (SIGTERM: it finishes cleanly).
kit="$(cd "$(dirname "$0")/.." && pwd)"
pidfile="$kit/local/{kind}.pid"
if [ ! -f "$pidfile" ]; then
    echo "no $pidfile: the {kind} was not started with start.sh" >&2
    exit 1
fi
kill -TERM "$(cat "$pidfile")" && rm -f "$pidfile"
"""


def _readme(config: KitConfig) -> str:
    head = (
        f"Cohort startup kit: {config.name} ({config.kind}, role {config.role}, org {config.org})\n"
        f"Project: {config.project}\n"
        f"Server:  https://{config.server_host}:{config.server_port}\n\n"
        "startup/ holds this participant's certificate and private key (key.pem, keep it\n"
        "secret: anyone holding it can act as this participant), the project root CA and\n"
        "kit.json. Do not edit these files; provision a new kit instead.\n\n"
    )
    if config.kind == "server":
        body = "Start the server:   sh startup/start.sh      stop it: sh startup/stop.sh\n"
    elif config.kind == "site":
        body = (
            "Start the site agent:   sh startup/start.sh      stop it: sh startup/stop.sh\n"
            "It dials out to the server over mutual TLS; no inbound port is needed.\n"
            "Put site-local settings in local/.\n"
        )
    else:
        body = (
            "Point Cohort's admin commands and Python API at this folder\n"
            "(--startup-kit <this folder>, or `cohort config` to make it the active kit).\n"
            "transfer/ is where job folders are staged and downloaded results land.\n"
        )
    return head + body
