"""Output of CLI commands: human text, or exactly one JSON envelope on stdout; exit codes.

Envelope (``--format json``)::

    {"schema_version": "1", "status": "ok", "exit_code": 0, "data": {...}}
    {"schema_version": "1", "status": "error", "exit_code": 4, "error_code": "...",
     "message": "...", "hint": "...", "data": {...} | null}

Human-readable progress and diagnostics always go to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from cohort.errors import CohortError, ErrorCode, spec_for

__all__ = [
    "SCHEMA_VERSION",
    "emit",
    "emit_error",
    "err_console",
    "format_option",
    "handle_errors",
    "iso",
    "out_console",
    "print_json",
    "report_error",
]

SCHEMA_VERSION = "1"
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["txt", "json"]),
    default="txt",
    show_default=True,
    help="json prints one machine-readable envelope on stdout.",
)


def out_console() -> Console:
    """A console for human output on stdout; when stdout is no terminal (a pipe, a file),
    tables get 160 columns instead of rich's 80, so job ids are never cut."""
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)
    return console


def print_json(obj: Any) -> None:
    """One JSON document on one line of stdout."""
    click.echo(json.dumps(obj, default=str))


def iso(seconds: float | None) -> str | None:
    """POSIX seconds as local ISO 8601 with offset (None stays None)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def emit(fmt: str, data: dict[str, Any], human: Callable[[], None], exit_code: int = 0) -> None:
    """Print a success: the envelope in JSON mode, else whatever ``human`` prints."""
    if fmt == "json":
        print_json(
            {"schema_version": SCHEMA_VERSION, "status": "ok", "exit_code": exit_code, "data": data}
        )
    else:
        human()
    if exit_code:
        sys.exit(exit_code)


def emit_error(
    fmt: str,
    code: ErrorCode | str,
    message: str,
    hint: str = "",
    data: dict[str, Any] | None = None,
    *,
    human: Callable[[], None] | None = None,
) -> NoReturn:
    """Print a failure with its code's exit code and exit."""
    exit_code = spec_for(code).exit_code
    if fmt in ("json", "jsonl"):
        body: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "status": "error",
            "exit_code": exit_code,
            "error_code": str(code),
            "message": message,
            "hint": hint,
            "data": data or None,
        }
        if fmt == "jsonl":  # a monitor stream ends with a terminal error event
            body = {"event": "error", "terminal": True, **body}
        print_json(body)
    else:
        if human is not None:
            human()
        err_console.print(f"[red]Error[/red] {code}: {message}", markup=True)
        if hint:
            err_console.print(f"Hint: {hint}", markup=False)
    sys.exit(exit_code)


def report_error(fmt: str, exc: CohortError) -> NoReturn:
    """Print a :class:`CohortError` in the current format and exit with its exit code."""
    emit_error(fmt, exc.code, exc.message, exc.hint, exc.details or None)


def handle_errors(func: F) -> F:
    """Turn a :class:`CohortError` into the error envelope (JSON) or a message (human), with
    the error code's exit code. (Commands built on CohortCommand get this automatically.)"""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CohortError as exc:
            report_error(str(kwargs.get("fmt", "txt")), exc)

    return wrapper  # type: ignore[return-value]
