"""Admin commands a site runs for the session API (relayed with heartbeat replies).

The same :func:`run_command` serves the server's own target, so "server" and a site answer
alike: file commands confined to the workspace, its path, version and resource facts, and the
agent's own log level or mode.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cohort.errors import CohortError, ErrorCode, InvalidRequest
from cohort.fileview import COMMANDS, run_file_command
from cohort.hostinfo import resources, versions
from cohort.logconfig import apply_setting, merge_setting
from cohort.schemas.fleet import CommandResult

__all__ = ["SITE_COMMANDS", "execute", "run_command"]

#: Every command a target runs: the file commands plus pwd, version, resources, site_log.
SITE_COMMANDS = (*COMMANDS, "pwd", "version", "resources", "site_log")


def run_command(workspace: Path, name: str, args: dict[str, Any]) -> Any:
    """Run one admin command in ``workspace``; raises CohortError on bad input."""
    if name in COMMANDS:
        return run_file_command(
            workspace,
            name,
            options=_text(args.get("options")),
            path=_text(args.get("path")),
            pattern=_text(args.get("pattern")),
        )
    if name == "pwd":
        return str(workspace.resolve())
    if name == "version":
        return versions()
    if name == "resources":
        return resources(workspace)
    if name == "site_log":
        value = args.get("setting", "")
        setting = merge_setting(None, value if isinstance(value, dict) else str(value))
        root = logging.getLogger()
        apply_setting(setting, root)
        # The level now in force in this process, so the admin sees what took effect.
        return {"level": logging.getLevelName(root.level), "mode": setting.mode}
    raise InvalidRequest(f"unknown command {name!r}", code=ErrorCode.INVALID_ARGS)


def execute(workspace: Path, name: str, args: dict[str, Any]) -> CommandResult:
    """:func:`run_command` with its failure turned into a result to send back."""
    try:
        return CommandResult(output=run_command(workspace, name, args))
    except CohortError as exc:
        return CommandResult(error_code=str(exc.code), error_message=exc.message[:4000])
    except OSError as exc:
        return CommandResult(error_code=str(ErrorCode.NOT_FOUND), error_message=str(exc)[:4000])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
