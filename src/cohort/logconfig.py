"""Log levels and modes for ``cohort job log-config``, and applying them inside a job process.

The server records a :class:`~cohort.schemas.fleet.LogSetting` per target of a running job.
The server job process reads it from ``jobs/<id>/log_config.json`` in the artifact store; a
site agent receives its jobs' settings with each heartbeat and writes them to
``<site workspace>/jobs/<id>/log_config.json``, whose path the job script gets in
``COHORT_LOG_CONFIG_FILE``. In both processes a :class:`LogConfigWatcher` thread notices the
change within a second and applies it to the root logger: a level sets its level, a mode its
line format, ``reload`` restores the defaults (INFO, ``full``).

A :func:`logging.config.dictConfig` dict is accepted too, for its levels (root and named
loggers) and its line format. Its handlers, filters and factories (``()``, ``class``) are
not applied: they would import and run code named by the admin inside every job process,
and the processes' own handlers are what streams their logs to the server.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

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
    "parse_dict_config",
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


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(
        message,
        code=ErrorCode.LOG_CONFIG_INVALID,
        hint="A dictConfig dict sets levels ('root': {'level': ...}, 'loggers': {name: "
        "{'level': ...}}) and a line format ('formatters': {name: {'format': ...}}).",
    )


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
        raise _invalid(f"{where}: {value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.upper()


def _format(formatters: Any) -> str | None:
    """The line format of a dictConfig's formatters (one, or the same in all)."""
    if formatters is None:
        return None
    if not isinstance(formatters, dict):
        raise _invalid("formatters must be a mapping of name -> {'format': ...}")
    formats = set()
    for name, spec in formatters.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("format"), str):
            raise _invalid(f"formatters.{name}: needs a 'format' string")
        formats.add(spec["format"])
    if len(formats) > 1:
        raise _invalid("formatters: give one line format (the processes log with one)")
    fmt = formats.pop() if formats else None
    if fmt is not None:
        record = logging.LogRecord("cohort", logging.INFO, __file__, 1, "check", None, None)
        try:
            logging.Formatter(fmt).format(record)
        except (ValueError, KeyError, TypeError) as exc:  # e.g. %(nosuchfield)s
            raise _invalid(f"format {fmt!r} cannot format a log record: {exc}") from exc
    return fmt


def parse_dict_config(config: dict[str, Any]) -> tuple[str | None, dict[str, str], str | None]:
    """The root level, named loggers' levels and line format of a dictConfig dict."""
    if config.get("version", 1) != 1:
        raise _invalid("dictConfig 'version' must be 1")
    root = config.get("root", {})
    if not isinstance(root, dict):
        raise _invalid("root must be a mapping")
    level = _level(root["level"], "root.level") if "level" in root else None
    loggers = config.get("loggers", {})
    if not isinstance(loggers, dict):
        raise _invalid("loggers must be a mapping of name -> {'level': ...}")
    levels = {}
    for name, spec in loggers.items():
        if not isinstance(spec, dict):
            raise _invalid(f"loggers.{name} must be a mapping")
        if "level" in spec:
            levels[str(name)] = _level(spec["level"], f"loggers.{name}.level")
    fmt = _format(config.get("formatters"))
    if level is None and not levels and fmt is None:
        raise _invalid("the dictConfig sets no level and no format")
    return level, levels, fmt


def merge_setting(previous: LogSetting | None, value: str | dict[str, Any]) -> LogSetting:
    """The setting after asking for ``value`` (a level, a mode, or a dictConfig dict) on top
    of ``previous`` (version + 1)."""
    prev = previous or LogSetting()
    version = prev.version + 1
    if isinstance(value, dict):
        level, loggers, fmt = parse_dict_config(value)
        return prev.model_copy(
            update={
                "level": level or prev.level,
                "loggers": {**prev.loggers, **loggers},
                "format": fmt or prev.format,
                "version": version,
            }
        )
    level, mode = parse_setting(value)
    if mode == "reload":
        return LogSetting(level=None, mode="reload", version=version)
    if mode is not None:  # a mode names the format: it replaces a dictConfig's
        return prev.model_copy(update={"mode": mode, "format": None, "version": version})
    return prev.model_copy(update={"level": level, "version": version})


def apply_setting(setting: LogSetting, logger: logging.Logger | None = None) -> None:
    """Apply a setting to ``logger`` (the root logger), adding a stderr handler if it has none."""
    target = logger or logging.getLogger()
    if not target.handlers:
        target.addHandler(logging.StreamHandler(sys.stderr))
    if setting.mode == "reload":
        target.setLevel(DEFAULT_LEVEL)
        _set_format(target, FORMATS[DEFAULT_MODE])
    elif setting.format is not None:
        _set_format(target, setting.format)
    elif setting.mode in FORMATS:
        _set_format(target, FORMATS[setting.mode])
    if setting.level is not None:
        target.setLevel(setting.level)
    for name, level in setting.loggers.items():
        logging.getLogger(name).setLevel(level)


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
            "log config applied: level=%s mode=%s loggers=%s format=%r",
            setting.level,
            setting.mode,
            setting.loggers,
            setting.format,
        )
        return True

    def run(self) -> None:
        """Check until stopped."""
        while not self.stopped.wait(self.interval):
            self.check()
