"""Options shared by the job commands: startup-kit selection, ``--study``, ``--format``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cohort.cli.output import err_console
from cohort.schemas.admin import DEFAULT_STUDY

if TYPE_CHECKING:
    from cohort.admin.api import AdminAPI

__all__ = ["format_choice", "kit_options", "open_api", "site_option", "study_option"]

F = TypeVar("F", bound=Callable[..., Any])


def kit_options(func: F) -> F:
    """``--kit-id`` and ``--startup-kit``: pick the admin kit for this command only."""
    func = click.option(
        "--startup-kit",
        default=None,
        type=click.Path(path_type=Path),
        help="Use this admin startup kit folder (for this command only).",
    )(func)
    func = click.option(
        "--kit-id",
        default=None,
        help="Use this registered startup kit (for this command only); wins over --startup-kit.",
    )(func)
    return func


def study_option(func: F) -> F:
    """``--study``: the study (job namespace) to act in."""
    return click.option(
        "--study",
        default=DEFAULT_STUDY,
        show_default=True,
        help="Study of the job; use the one given at submit.",
    )(func)


def format_choice(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices (txt first, the default)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default="txt",
        show_default=True,
        help="json prints one envelope on stdout"
        + ("; jsonl streams one JSON event per line." if "jsonl" in choices else "."),
    )


def site_option(default: str, help_text: str) -> Callable[[F], F]:
    """``--site`` (alias ``--sites``): "server", "all", or a site name."""
    return click.option(
        "--site",
        "--sites",
        "site",
        default=default,
        show_default=True,
        callback=_check_site,
        help=help_text,
    )


def _check_site(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    import re

    if value in ("all", "server") or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}", value):
        return value
    raise click.BadParameter(f"{value!r} is not 'server', 'all' or a site name")


def open_api(kit_id: str | None, startup_kit: Path | None) -> AdminAPI:
    """The admin client for one command, with the kit resolved in the documented order."""
    from cohort.admin.api import AdminAPI
    from cohort.admin.kits import resolve_admin_kit

    if kit_id and startup_kit:
        err_console.print(f"note: --kit-id {kit_id} wins over --startup-kit {startup_kit}")
    return AdminAPI(resolve_admin_kit(kit_id, startup_kit))
