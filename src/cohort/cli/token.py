"""``cohort token create / list / revoke``: Bearer keys of the REST API, made over the admin
API with an admin startup kit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from cohort.cli.command import CohortCommand
from cohort.cli.options import format_choice, kit_options, open_api
from cohort.cli.output import emit, out_console
from cohort.schemas.records import ApiTokenRecord
from cohort.schemas.tokens import TOKEN_ROLES

__all__ = ["parse_duration", "token"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float | None:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (or plain seconds) -> seconds; ``never`` ->
    None. Raises ValueError otherwise."""
    if text == "never":
        return None
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw]?)", text.strip())
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 90m or never")
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> float | None:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _view(record: ApiTokenRecord) -> dict[str, object]:
    return record.model_dump(mode="json")


@click.group()
def token() -> None:
    """Create, list and revoke Bearer API keys of the REST API (/api/v1)."""


@token.command("create", cls=CohortCommand, mutating=True, idempotent=False)
@click.option("--role", type=click.Choice(TOKEN_ROLES), required=True, help="The key's role.")
@click.option(
    "--expires",
    default="30d",
    show_default=True,
    callback=_duration,
    help="Lifetime: 30d, 12h, 90m, 45s, 2w, or never.",
)
@click.option("--name", default="", help="What the key is for (shown in listings).")
@kit_options
@format_choice("txt", "json")
def create(
    role: str,
    expires: float | None,
    name: str,
    kit_id: str | None,
    startup_kit: Path | None,
    fmt: str,
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    with open_api(kit_id, startup_kit) as api:
        reply = api.create_token(role, name, expires)
    data = {"token": reply.token, "record": _view(reply.record)}

    def human() -> None:
        r = reply.record
        out_console().print(f"token id {r.token_id}, role {r.role}, expires {_when(r.expires)}")
        out_console().print("key (shown only now; send it as 'Authorization: Bearer <key>'):")
        print(reply.token)

    emit(fmt, data, human)


@token.command("list", cls=CohortCommand)
@kit_options
@format_choice("txt", "json")
def list_tokens(kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """List keys (their ids, roles and dates; never the keys)."""
    with open_api(kit_id, startup_kit) as api:
        records = api.list_tokens()

    def human() -> None:
        table = Table("token id", "role", "name", "created by", "created", "expires", "revoked")
        for r in records:
            table.add_row(
                r.token_id,
                r.role,
                r.name,
                r.created_by,
                _when(r.created),
                _when(r.expires),
                _when(r.revoked),
            )
        out_console().print(table)

    emit(fmt, {"count": len(records), "tokens": [_view(r) for r in records]}, human)


@token.command("revoke", cls=CohortCommand, mutating=True, idempotent=True)
@click.argument("token_id")
@kit_options
@format_choice("txt", "json")
def revoke(token_id: str, kit_id: str | None, startup_kit: Path | None, fmt: str) -> None:
    """Revoke a key at once (by its token id, from `cohort token list`)."""
    with open_api(kit_id, startup_kit) as api:
        record = api.revoke_token(token_id)
    emit(
        fmt,
        {"record": _view(record)},
        lambda: out_console().print(f"revoked {record.token_id} at {_when(record.revoked)}"),
    )
