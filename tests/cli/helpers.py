"""Helpers for CLI tests: run ``cohort`` in process and read its JSON output."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from cohort.cli.main import cli
from tests.integration.federation import running_federation

__all__ = ["envelope", "events", "run", "running_federation"]


def run(*args: str, input: str | None = None) -> Result:
    """Run ``cohort ARGS`` in process; stdout and stderr stay apart."""
    return CliRunner().invoke(
        cli, list(args), input=input, catch_exceptions=False, prog_name="cohort"
    )


def envelope(result: Result) -> dict[str, Any]:
    """The one JSON envelope a --format json command printed (and nothing else on stdout)."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout, got: {result.stdout!r}"
    data: dict[str, Any] = json.loads(lines[0])
    assert data["schema_version"] == "1"
    assert data["exit_code"] == result.exit_code
    assert data["status"] == ("ok" if result.exit_code == 0 else "error")
    return data


def events(result: Result) -> list[dict[str, Any]]:
    """The JSON lines a --format jsonl command printed."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
