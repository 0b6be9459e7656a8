"""A session's log config argument (``configure_job_log``, ``configure_site_log``) as the
server takes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cohort.admin.spec_errors import invalid

__all__ = ["log_setting"]


def log_setting(config: Any) -> str | dict[str, Any]:
    """A log config as the server takes it: a level or mode name, or a dictConfig dict.

    ``config`` may be a level name, a mode name, a dictConfig dict, or the path of a JSON
    file holding one. The server applies a dictConfig's levels (root and named loggers) and
    its line format; handlers and factories are not applied (see :mod:`cohort.logconfig`).
    """
    if isinstance(config, dict):
        return config
    if isinstance(config, Path) or (isinstance(config, str) and config.endswith(".json")):
        try:
            loaded = json.loads(Path(config).read_text())
        except (OSError, ValueError) as exc:
            raise invalid(f"cannot read log config file {config}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise invalid(f"log config file {config} does not hold a dictConfig object")
        return loaded
    if isinstance(config, str):
        return config
    raise invalid(
        "log config must be a level, a mode, a dictConfig dict, or a .json file holding one"
    )
