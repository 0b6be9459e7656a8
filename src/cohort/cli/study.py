"""``cohort study``: the study registry (which sites and users each study has)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from cohort.cli.command import CohortCommand, OrderedGroup
from cohort.cli.options import format_choice, kit_options, open_api
from cohort.cli.output import emit, err_console, out_console

__all__ = ["study"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=OrderedGroup)
def study() -> None:
    """Register studies and enroll sites and users in them.

    A project_admin names sites with their org (--site-org hospital-a:site-a1,site-a2); an
    org_admin names its own org's sites (--sites site-a1,site-a2). Jobs submitted with
    --study NAME run only on that study's sites.
    """


def _site_options(func: F) -> F:
    func = click.option(
        "--site-org",
        "site_orgs",
        multiple=True,
        help="'org:site1,site2' (repeatable; for project_admin callers).",
    )(func)
    return click.option(
        "--sites", default=None, help="Comma-separated site names (for org_admin callers)."
    )(func)


def _sites(sites: str | None, site_orgs: tuple[str, ...]) -> dict[str, list[str] | None]:
    names = [s.strip() for s in sites.split(",") if s.strip()] if sites is not None else None
    return {"sites": names, "site_orgs": list(site_orgs) or None}


def _print_study(data: dict[str, Any]) -> None:
    record = data.get("study", data)
    by_org: dict[str, list[str]] = {}
    for site in record["sites"]:
        by_org.setdefault(site["org"], []).append(site["site"])
    out_console().print(f"study {record['name']} (created by {record['created_by']})")
    for org, names in sorted(by_org.items()):
        out_console().print(f"  {org}: {', '.join(names)}")
    out_console().print(f"  users: {', '.join(record['users']) or '-'}")
    for key in ("added", "already_enrolled", "removed", "not_enrolled"):
        if data.get(key):
            err_console.print(f"{key.replace('_', ' ')}: {', '.join(data[key])}")


def _site_command(name: str, method: str, help_text: str) -> None:
    @study.command(name, cls=CohortCommand, mutating=True, idempotent=True, help=help_text)
    @click.argument("name")
    @_site_options
    @kit_options
    @format_choice("txt", "json")
    def command(
        name: str,
        sites: str | None,
        site_orgs: tuple[str, ...],
        kit_id: str | None,
        startup_kit: Path | None,
        fmt: str,
    ) -> None:
        from cohort.admin.registry import sites_body

        named = _sites(sites, site_orgs)
        sites_body(**named)  # INVALID_ARGS before any connection
        with open_api(kit_id, startup_kit) as api:
            data = getattr(api, method)(name, **named)
        emit(fmt, data, lambda: _print_study(data))


_site_command("register", "register_study", "Create study NAME (or merge into it) with sites.")
_site_command("add-site", "add_study_site", "Enroll sites in study NAME.")
_site_command("remove-site", "remove_study_site", "Remove sites from study NAME.")


def _user_command(name: str, method: str, help_text: str) -> None:
    @study.command(name, cls=CohortCommand, mutating=True, idempotent=True, help=help_text)
    @click.argument("name")
    @click.argument("user")
    @kit_options
    @format_choice("txt", "json")
    def command(
        name: str, user: str, kit_id: str | None, startup_kit: Path | None, fmt: str
    ) -> None:
        with open_api(kit_id, startup_kit) as api:
            data = getattr(api, method)(name, user)
        emit(fmt, data, lambda: _print_study(data))


_user_command("add-user", "add_study_user", "Add USER to study NAME.")
_user_command("remove-user", "remove_study_user", "Remove USER from study NAME.")


@study.command("list", cls=CohortCommand)
@kit_options
@format_choice("txt", "json")
def list_studies(kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """List the registered studies."""
    with open_api(kit_id, startup_kit) as api:
        studies = api.list_studies()

    def human() -> None:
        table = Table("study", "sites", "users", "created by")
        for s in studies:
            sites = ", ".join(f"{x['org']}:{x['site']}" for x in s["sites"])
            table.add_row(s["name"], sites or "-", ", ".join(s["users"]) or "-", s["created_by"])
        out_console().print(table)

    emit(fmt, {"studies": studies}, human)


@study.command("show", cls=CohortCommand)
@click.argument("name")
@kit_options
@format_choice("txt", "json")
def show(name: str, kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """Show one study's sites and users."""
    with open_api(kit_id, startup_kit) as api:
        data = api.show_study(name)
    emit(fmt, data, lambda: _print_study(data))


@study.command("remove", cls=CohortCommand, mutating=True, idempotent=False)
@click.argument("name")
@kit_options
@format_choice("txt", "json")
def remove(name: str, kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """Remove a study and its enrollments (its jobs stay)."""
    with open_api(kit_id, startup_kit) as api:
        data = api.remove_study(name)
    emit(fmt, data, lambda: err_console.print(f"removed study {name}"))
