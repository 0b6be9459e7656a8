"""Log levels and modes for ``cohort job log-config``, and applying them inside a job process.

The server records a :class:`~cohort.schemas.fleet.LogSetting` per target of a running job.
The server job process reads it from ``jobs/<id>/log_config.json`` in the artifact store; a
site agent receives its jobs' settings with each heartbeat and writes them to
``<site workspace>/jobs/<id>/log_config.json``, whose path the job script gets in
``COHORT_LOG_CONFIG_FILE``. In both processes a :class:`LogConfigWatcher` thread notices the
change within a second and applies it to the root logger: a level sets its level, a mode its
line format, ``reload`` restores the defaults (INFO, ``full``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

from cohort.errors import ErrorCode, InvalidRequest
from cohort.schemas.admin import LOG_LEVELS, LOG_MODES
from cohort.schemas.fleet import LogSetting

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_MODE",
    "ENV_LOG_CONFIG_FILE",
    "FORMATS",
    "LogConfigWatcher",
    "add_workspace_log",
    "apply_setting",
    "merge_setting",
    "parse_setting",
]

ENV_LOG_CONFIG_FILE = "COHORT_LOG_CONFIG_FILE"
DEFAULT_LEVEL = "INFO"
DEFAULT_MODE = "full"
FORMATS = {
    "concise": "%(asctime)s %(levelname)s %(message)s",
    "msg_only": "%(message)s",
    "full": "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
    "verbose": "%(asctime)s - %(name)s - %(levelname)s - %(filename)s:%(lineno)d "
    "%(funcName)s - %(message)s",
}


def parse_setting(value: str) -> tuple[str | None, str | None]:
    """``DEBUG`` -> (level, None); ``concise`` -> (None, mode); LOG_CONFIG_INVALID otherwise."""
    if value.upper() in LOG_LEVELS:
        return value.upper(), None
    if value.lower() in LOG_MODES:
        return None, value.lower()
    raise InvalidRequest(
        f"{value!r} is neither a log level nor a log mode",
        code=ErrorCode.LOG_CONFIG_INVALID,
        hint=f"Use one of: {', '.join(LOG_LEVELS + LOG_MODES)}.",
    )


def merge_setting(previous: LogSetting | None, value: str) -> LogSetting:
    """The setting after asking for ``value`` on top of ``previous`` (version + 1)."""
    prev = previous or LogSetting()
    level, mode = parse_setting(value)
    if mode == "reload":
        return LogSetting(level=None, mode="reload", version=prev.version + 1)
    return LogSetting(level=level or prev.level, mode=mode or prev.mode, version=prev.version + 1)


def apply_setting(setting: LogSetting, logger: logging.Logger | None = None) -> None:
    """Apply a setting to ``logger`` (the root logger), adding a stderr handler if it has none."""
    target = logger or logging.getLogger()
    if not target.handlers:
        target.addHandler(logging.StreamHandler(sys.stderr))
    if setting.mode == "reload":
        target.setLevel(DEFAULT_LEVEL)
        _set_format(target, FORMATS[DEFAULT_MODE])
    elif setting.mode in FORMATS:
        _set_format(target, FORMATS[setting.mode])
    if setting.level is not None:
        target.setLevel(setting.level)


def add_workspace_log(workspace: Path) -> logging.Handler:
    """Also log to ``<workspace>/log.txt`` (what ``head_target_log``/``tail_target_log`` read);
    returns the handler so the caller can remove it when it stops."""
    workspace.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(workspace / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMATS[DEFAULT_MODE]))
    logging.getLogger().addHandler(handler)
    return handler


def _set_format(logger: logging.Logger, fmt: str) -> None:
    for handler in logger.handlers:
        handler.setFormatter(logging.Formatter(fmt))


class LogConfigWatcher(threading.Thread):
    """Polls a log-config file and applies each new version of one target's setting."""

    def __init__(self, path: Path, target: str | None = None, interval: float = 1.0) -> None:
        super().__init__(name="log-config", daemon=True)
        self.path = path
        self.target = target  # key in the file; None: the file holds one setting
        self.interval = interval
        self.applied = -1
        self.stopped = threading.Event()

    def check(self) -> bool:
        """Apply the file's setting if it is new; True when something was applied."""
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return False
        if self.target is not None:
            raw = raw.get(self.target) if isinstance(raw, dict) else None
        if not isinstance(raw, dict):
            return False
        try:
            setting = LogSetting.model_validate(raw)
        except ValueError:
            return False
        if setting.version <= self.applied:
            return False
        self.applied = setting.version
        apply_setting(setting)
        logging.getLogger("cohort.logconfig").info(
            "log config applied: level=%s mode=%s", setting.level, setting.mode
        )
        return True

    def run(self) -> None:
        """Check until stopped."""
        while not self.stopped.wait(self.interval):
            self.check()
