"""The command class every ``cohort`` job command uses: ``--format`` anywhere after the
subcommand, ``--schema`` for machine-readable discovery, and argument errors reported as the
job command line documents them (human: help, then error and hint; JSON: only the envelope).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from cohort.cli.output import SCHEMA_VERSION, emit_error, err_console, print_json, report_error
from cohort.errors import CohortError, ErrorCode

__all__ = [
    "EXIT_CODES",
    "CohortCommand",
    "OrderedGroup",
    "command_schema",
    "confirm_or_refuse",
    "prescan_format",
]

EXIT_CODES = {
    "0": "success",
    "1": "the job reached a terminal failure status (FAILED, FINISHED_EXCEPTION, ABORTED, "
    "ABANDONED)",
    "2": "connection, authentication or authorization failure (no usable startup kit included)",
    "3": "timeout",
    "4": "the request or its arguments were refused",
}


def prescan_format(args: list[str]) -> str:
    """The ``--format`` value among raw arguments (before click parsed them), else "txt"."""
    fmt = "txt"
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--format" and i + 1 < len(args):
            fmt = args[i + 1]
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
    return fmt if fmt in ("txt", "json", "jsonl") else "txt"


class CohortCommand(click.Command):
    """A click command with the job command line's conventions.

    Extra keyword arguments describe the command as a whole for ``--schema``: ``mutating``
    (changes server or local state), ``idempotent`` (repeating it is harmless) and
    ``retry_token`` (it accepts ``--submit-token`` to make retries safe).
    """

    def __init__(
        self,
        *args: Any,
        mutating: bool = False,
        idempotent: bool = True,
        retry_token: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mutating = mutating
        self.idempotent = idempotent
        self.retry_token = retry_token
        self.params.append(
            click.Option(
                ["--schema"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_print_schema,
                help="Print this command's JSON schema and exit.",
            )
        )

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse; an argument error is reported in the format the caller asked for."""
        fmt = prescan_format(args)
        ctx.meta["cohort.fmt"] = fmt
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            self._argument_error(ctx, exc, fmt)

    def _argument_error(self, ctx: click.Context, exc: click.UsageError, fmt: str) -> NoReturn:
        hint = f"Run `{ctx.command_path} --help` for usage."
        data: dict[str, Any] | None = None
        param = getattr(exc, "param", None)
        if param is not None and param.name:
            data = {"param": param.name}

        def human() -> None:
            click.echo(self.get_help(ctx), err=True)
            click.echo("", err=True)

        emit_error(fmt, ErrorCode.INVALID_ARGS, exc.format_message(), hint, data, human=human)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a CohortError becomes the error output and its exit code."""
        fmt = str(ctx.params.get("fmt") or ctx.meta.get("cohort.fmt", "txt"))
        try:
            return super().invoke(ctx)
        except CohortError as exc:
            report_error(fmt, exc)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug: still one envelope in JSON mode
            if fmt == "txt":
                raise
            err_console.print_exception()
            emit_error(fmt, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


class OrderedGroup(click.Group):
    """A group whose help lists commands in the order they were added."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Command names in insertion order."""
        return list(self.commands)


def _print_schema(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    assert isinstance(ctx.command, CohortCommand)
    print_json(command_schema(ctx.command, ctx))
    ctx.exit(0)


def _type_info(param: click.Parameter) -> dict[str, Any]:
    kind = param.type
    info: dict[str, Any] = {}
    if isinstance(param, click.Option) and param.is_flag:
        info["type"] = "boolean"
    elif isinstance(kind, click.Choice):
        info["type"] = "string"
        info["choices"] = list(kind.choices)
    elif isinstance(kind, click.types.IntParamType):
        info["type"] = "integer"
    elif isinstance(kind, click.types.FloatParamType):
        info["type"] = "number"
    elif isinstance(kind, click.Path):
        info["type"] = "path"
    else:
        info["type"] = "string"
    if isinstance(kind, click.types._NumberRangeBase):
        if kind.min is not None:
            info["exclusiveMinimum" if kind.min_open else "minimum"] = kind.min
        if kind.max is not None:
            info["exclusiveMaximum" if kind.max_open else "maximum"] = kind.max
    return info


def _jsonable(value: Any) -> Any:
    # Click 8.2+ marks "no default" with an enum sentinel (UNSET) rather than None.
    if type(value).__name__ == "Sentinel":
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def command_schema(command: CohortCommand, ctx: click.Context) -> dict[str, Any]:
    """The machine-readable description of a command: arguments with types and defaults, and
    what the command is (mutating, idempotent, retry token support)."""
    arguments = []
    formats = ["txt", "json"]
    help_option = command.get_help_option(ctx)
    for param in command.get_params(ctx):
        if param is help_option or param.name is None or "--schema" in param.opts:
            continue
        entry: dict[str, Any] = {"name": param.name}
        if isinstance(param, click.Argument):
            entry["kind"] = "positional"
        else:
            entry["kind"] = "option"
            entry["flags"] = [*param.opts, *param.secondary_opts]
        entry.update(_type_info(param))
        entry["required"] = bool(param.required)
        default = param.get_default(ctx, call=False)
        entry["default"] = _jsonable(None if callable(default) else default)
        entry["multiple"] = bool(param.multiple)
        help_text = getattr(param, "help", None)
        if help_text:
            entry["help"] = help_text
        if param.name == "fmt" and isinstance(param.type, click.Choice):
            formats = [str(c) for c in param.type.choices]
        if not getattr(param, "hidden", False):
            arguments.append(entry)
    return {
        "schema_version": SCHEMA_VERSION,
        "command": " ".join(["cohort", *ctx.command_path.split()[1:]]),
        "description": (command.help or "").strip().split("\n")[0],
        "arguments": arguments,
        "output_formats": formats,
        "mutating": command.mutating,
        "idempotent": command.idempotent,
        "retry_token": {
            "supported": command.retry_token,
            "option": "--submit-token" if command.retry_token else None,
        },
        "exit_codes": EXIT_CODES,
    }


def confirm_or_refuse(prompt: str, force: bool, what: str) -> None:
    """Ask on the terminal; refuse (CONFIRMATION_REQUIRED) when there is no terminal or the
    answer is no, so that a script never hangs on a hidden prompt."""
    if force:
        return
    if not sys.stdin.isatty():
        raise CohortError(
            f"refusing to {what} without confirmation: stdin is not a terminal",
            code=ErrorCode.CONFIRMATION_REQUIRED,
            hint="Pass --force to skip the confirmation prompt.",
        )
    # The prompt goes to stderr and the answer is read from stdin directly (click.confirm
    # would write to stdout through input(), before the JSON envelope).
    click.echo(f"{prompt} [y/N]: ", nl=False, err=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CohortError(
            f"did not {what}: not confirmed",
            code=ErrorCode.CONFIRMATION_REQUIRED,
            hint="Answer y, or pass --force.",
        )
