"""Log settings: levels, modes and the applied part of a dictConfig, merged and applied."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from cohort.errors import CohortError, ErrorCode
from cohort.logconfig import apply_setting, merge_setting, parse_dict_config


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("cohort.test.logconfig")
    handler = logging.StreamHandler()
    log.addHandler(handler)
    yield log
    log.removeHandler(handler)
    log.setLevel(logging.NOTSET)
    logging.getLogger("cohort.test.child").setLevel(logging.NOTSET)


def test_dict_config_levels_and_format_are_taken() -> None:
    config = {
        "version": 1,
        "formatters": {"a": {"format": "%(levelname)s %(message)s"}},
        "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "a"}},
        "root": {"level": "warning", "handlers": ["h"]},
        "loggers": {"httpx": {"level": "DEBUG"}, "quiet": {"propagate": False}},
    }
    assert parse_dict_config(config) == ("WARNING", {"httpx": "DEBUG"}, "%(levelname)s %(message)s")


@pytest.mark.parametrize(
    "config",
    [
        {"version": 2, "root": {"level": "INFO"}},
        {"root": {"level": "LOUD"}},
        {"root": "INFO"},
        {"loggers": ["a"]},
        {"loggers": {"a": {"level": 10}}},
        {"formatters": {"a": {"fmt": "%(message)s"}}},
        {"formatters": {"a": {"format": "%(nope)s"}}},
        {"formatters": {"a": {"format": "%(message)s"}, "b": {"format": "%(name)s"}}},
        {"version": 1, "handlers": {"h": {"()": "os.system"}}},  # nothing Cohort applies
    ],
)
def test_dict_config_defects_are_log_config_invalid(config: dict[str, Any]) -> None:
    with pytest.raises(CohortError) as info:
        parse_dict_config(config)
    assert info.value.code == ErrorCode.LOG_CONFIG_INVALID and info.value.hint


def test_merge_keeps_what_a_later_setting_does_not_name() -> None:
    first = merge_setting(None, {"root": {"level": "DEBUG"}, "loggers": {"a": {"level": "ERROR"}}})
    second = merge_setting(first, {"formatters": {"f": {"format": "%(message)s"}}})
    assert (second.level, second.loggers, second.format) == ("DEBUG", {"a": "ERROR"}, "%(message)s")
    assert second.version == first.version + 1 == 2
    moded = merge_setting(second, "concise")  # a mode names the format: it replaces the dict's
    assert (moded.mode, moded.format, moded.level) == ("concise", None, "DEBUG")
    reloaded = merge_setting(moded, "reload")
    assert (reloaded.level, reloaded.loggers, reloaded.format) == (None, {}, None)


def test_apply_sets_levels_of_named_loggers_and_the_format(logger: logging.Logger) -> None:
    setting = merge_setting(
        None,
        {
            "root": {"level": "ERROR"},
            "loggers": {"cohort.test.child": {"level": "DEBUG"}},
            "formatters": {"f": {"format": "X %(message)s"}},
        },
    )
    apply_setting(setting, logger)
    assert logger.level == logging.ERROR
    assert logging.getLogger("cohort.test.child").level == logging.DEBUG
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "hello", None, None)
    assert logger.handlers[0].format(record) == "X hello"
