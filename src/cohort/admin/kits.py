"""Which admin startup kit a command uses, and the registry of kits in ``$COHORT_HOME``.

Resolution order (the job command line's): ``--kit-id``, then ``--startup-kit``, then
``COHORT_STARTUP_KIT_DIR``, then the active kit in ``$COHORT_HOME/config.toml``. The first
source given decides; if it does not hold a valid admin kit the command fails before it
connects, with STARTUP_KIT_MISSING. ``--kit-id`` and ``--startup-kit`` never change the
active kit.

``config.toml``::

    [startup_kits]
    active = "project_admin"

    [startup_kits.ids]
    "project_admin" = "/abs/kit/dir"
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from cohort.errors import CohortError, ConnectionFailed, ErrorCode, InvalidRequest
from cohort.provision.kit import Kit, load_kit

__all__ = [
    "ENV_KIT_DIR",
    "cohort_home",
    "list_kits",
    "register_kit",
    "remove_kit",
    "resolve_admin_kit",
    "use_kit",
]

ENV_KIT_DIR = "COHORT_STARTUP_KIT_DIR"
_KIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
_SELECT_HINT = (
    "Run `cohort config list` and `cohort config use <id>`, pass --kit-id <id> or "
    f"--startup-kit <path>, or set {ENV_KIT_DIR} (or run `cohort poc prepare`)."
)


def cohort_home() -> Path:
    """``$COHORT_HOME``, default ``~/.cohort``."""
    return Path(os.environ.get("COHORT_HOME") or Path.home() / ".cohort")


def _config_path() -> Path:
    return cohort_home() / "config.toml"


def load_config() -> dict[str, Any]:
    """The user's Cohort config (empty when there is none)."""
    path = _config_path()
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            f"{path} is not valid TOML: {exc}", hint="Fix or delete the file."
        ) from exc


def save_config(config: dict[str, Any]) -> None:
    """Write the config atomically."""
    path = _config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    with os.fdopen(fd, "w") as fh:
        fh.write(dump_toml(config))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def dump_toml(table: dict[str, Any], path: tuple[str, ...] = ()) -> str:
    """TOML text of nested tables of strings, numbers and booleans (the config's shape).

    The standard library reads TOML but does not write it; this small writer keeps Cohort
    free of a dependency for one file. Keys and strings are written as JSON strings, which
    are valid TOML basic strings (the same escapes).
    """
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    lines = []
    if path and (scalars or not tables):
        lines.append("[" + ".".join(json.dumps(p) for p in path) + "]")
    for key, value in scalars.items():
        if not isinstance(value, str | int | float | bool):
            raise TypeError(f"config value {key!r} is a {type(value).__name__}")
        text = json.dumps(value)  # true/false, numbers and strings are TOML too
        lines.append(f"{json.dumps(key)} = {text}")
    parts = ["\n".join(lines) + "\n"] if lines else []
    parts += [dump_toml(sub, (*path, key)) for key, sub in tables.items()]
    return "\n".join(parts)


def _kits(config: dict[str, Any]) -> dict[str, Any]:
    kits = config.setdefault("startup_kits", {})
    kits.setdefault("ids", {})
    return kits  # type: ignore[no-any-return]


def _load_admin_kit(path: Path, source: str) -> Kit:
    """Load an admin kit; STARTUP_KIT_MISSING naming the source when it is not one."""
    try:
        kit = load_kit(path)
    except CohortError as exc:
        raise ConnectionFailed(
            f"{source} does not hold a valid admin startup kit: {exc.message}",
            code=ErrorCode.STARTUP_KIT_MISSING,
            hint="Point it at the admin startup kit folder itself (the one holding startup/), "
            "not the broader prod_00 root. " + _SELECT_HINT,
            details={"path": str(path), "source": source},
        ) from exc
    if kit.config.kind != "admin":
        raise ConnectionFailed(
            f"{source} is a {kit.config.kind} kit; job commands need an admin kit",
            code=ErrorCode.STARTUP_KIT_MISSING,
            hint=_SELECT_HINT,
            details={"path": str(path), "source": source},
        )
    return kit


def register_kit(kit_id: str, path: Path, *, activate: bool = True) -> Path:
    """Register an admin kit under ``kit_id`` (and make it the active one); return its path."""
    if not _KIT_ID.fullmatch(kit_id):
        raise InvalidRequest(
            f"{kit_id!r} is not a valid startup kit id",
            code=ErrorCode.INVALID_ARGS,
            hint="Use letters, digits, '.', '_', '@' or '-'.",
        )
    kit = _load_admin_kit(Path(path), f"startup kit {path}")
    config = load_config()
    kits = _kits(config)
    resolved = kit.dir.resolve()
    kits["ids"][kit_id] = str(resolved)
    if activate:
        kits["active"] = kit_id
    save_config(config)
    return resolved


def _unknown_id(kit_id: str, ids: dict[str, str]) -> ConnectionFailed:
    return ConnectionFailed(
        f"no startup kit registered as {kit_id!r}",
        code=ErrorCode.STARTUP_KIT_MISSING,
        hint=f"Registered: {', '.join(sorted(ids)) or 'none'}. Add one with "
        "`cohort config add <id> <admin kit folder>`.",
        details={"kit_id": kit_id},
    )


def use_kit(kit_id: str) -> Path:
    """Make a registered kit the active one; return its path."""
    config = load_config()
    kits = _kits(config)
    if kit_id not in kits["ids"]:
        raise _unknown_id(kit_id, kits["ids"])
    kits["active"] = kit_id
    save_config(config)
    return Path(kits["ids"][kit_id])


def remove_kit(kit_id: str) -> bool:
    """Forget a registered kit; return True when it was the active one (none is active now)."""
    config = load_config()
    kits = _kits(config)
    if kit_id not in kits["ids"]:
        raise _unknown_id(kit_id, kits["ids"])
    del kits["ids"][kit_id]
    was_active = kits.get("active") == kit_id
    if was_active:
        kits.pop("active", None)
    save_config(config)
    return was_active


def list_kits() -> tuple[str | None, dict[str, str]]:
    """The active kit id (or None) and every registered id with its path."""
    kits = load_config().get("startup_kits", {})
    ids = dict(kits.get("ids", {}))
    active = kits.get("active")
    return (active if active in ids else None), ids


def resolve_admin_kit(kit_id: str | None = None, startup_kit: str | Path | None = None) -> Kit:
    """Find the admin kit for one command, in the documented order."""
    active, ids = list_kits()
    if kit_id:
        if kit_id not in ids:
            raise _unknown_id(kit_id, ids)
        return _load_admin_kit(Path(ids[kit_id]), f"--kit-id {kit_id} ({ids[kit_id]})")
    if startup_kit:
        return _load_admin_kit(Path(startup_kit), f"--startup-kit {startup_kit}")
    if os.environ.get(ENV_KIT_DIR):
        env = os.environ[ENV_KIT_DIR]
        return _load_admin_kit(Path(env), f"{ENV_KIT_DIR}={env}")
    if active is not None:
        return _load_admin_kit(Path(ids[active]), f"active startup kit {active} ({ids[active]})")
    raise ConnectionFailed(
        "no admin startup kit is selected",
        code=ErrorCode.STARTUP_KIT_MISSING,
        hint=_SELECT_HINT,
    )
