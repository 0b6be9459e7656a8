"""The authorization policy: what each admin role may do, written once.

Every admin route asks :func:`authorize` (through the dependencies in
:mod:`cohort.server.api.guard`). A rule grants an action to a role with a scope:

* ``all``: on anything;
* ``org``: on sites of the caller's own org (certificate ``O``);
* ``own``: on jobs the caller submitted.

A refusal is :class:`cohort.errors.NotAuthorized` (``NOT_AUTHORIZED``) whose message and
``details["rule"]`` name the rule that refused. :func:`policy_table` renders the rules for the
docs, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from cohort.errors import ErrorCode, NotAuthorized
from cohort.tls import Identity

__all__ = [
    "RULES",
    "Action",
    "Scope",
    "allowed_scope",
    "authorize",
    "authorize_key",
    "authorize_study",
    "policy_table",
]

Scope = Literal["all", "org", "own"]


class Action(StrEnum):
    """Everything an admin can ask the server to do, as the policy names it."""

    VIEW = "view"  # jobs, their rounds, logs, stats, results; sites; studies
    SUBMIT = "job.submit"  # submit and clone jobs
    MANAGE_JOB = "job.manage"  # abort, delete, change a job's log config
    OPERATE_SITE = "site.operate"  # enable, disable, restart a site
    MANAGE_STUDY = "study.manage"  # register and remove studies, enroll and remove sites
    MANAGE_USERS = "study.users"  # add and remove a study's users
    VIEW_AUDIT = "audit.view"  # read the audit log
    SYSTEM = "system.lifecycle"  # stop or restart the server, shut the whole system down
    MANAGE_TOKENS = "token.manage"  # create, list and revoke REST API keys


_ALL_ACTIONS: Final = {action: "all" for action in Action}

#: role -> action -> scope. An action missing from a role's rules is refused.
RULES: Final[dict[str, dict[Action, Scope]]] = {
    "project_admin": dict(_ALL_ACTIONS),  # type: ignore[arg-type]
    "org_admin": {
        Action.VIEW: "all",
        Action.VIEW_AUDIT: "all",
        Action.OPERATE_SITE: "org",
        Action.MANAGE_STUDY: "org",
        Action.MANAGE_USERS: "org",
    },
    "lead": {
        Action.VIEW: "all",
        Action.SUBMIT: "all",
        Action.MANAGE_JOB: "own",
        Action.OPERATE_SITE: "org",
    },
    "member": {Action.VIEW: "all"},
}


def allowed_scope(role: str, action: Action) -> Scope | None:
    """The scope in which ``role`` may do ``action``, or None when it may not at all."""
    return RULES.get(role, {}).get(action)


def authorize(
    who: Identity,
    action: Action,
    *,
    owner: str | None = None,
    orgs: set[str] | frozenset[str] = frozenset(),
) -> Scope:
    """Return the scope that allows ``who`` to do ``action``; raise if no rule allows it.

    Args:
        who: the caller, from its certificate.
        action: what it asks to do.
        owner: for job actions, the job's submitter (checked against ``own`` scopes).
        orgs: for site actions, the orgs of the sites involved (checked against ``org``).

    Raises:
        NotAuthorized: NOT_AUTHORIZED naming the refusing rule in ``details["rule"]``.
    """
    scope = allowed_scope(who.role, action)
    if scope is None:
        granted = sorted(RULES.get(who.role, {}))
        _refuse(
            who,
            action,
            f"{who.role} may not {action}",
            f"role {who.role} is allowed: {', '.join(granted) or 'nothing'}",
        )
    elif scope == "own" and owner is not None and owner != who.name:
        _refuse(
            who,
            action,
            f"{who.role} may {action} only its own jobs",
            f"the job was submitted by {owner}",
        )
    elif scope == "org" and (foreign := sorted(set(orgs) - {who.org})):
        _refuse(
            who,
            action,
            f"{who.role} may {action} only for its own org ({who.org})",
            f"sites of other orgs: {', '.join(foreign)}",
        )
    assert scope is not None
    return scope


def authorize_key(who: Identity, action: Action, *, owner: str | None = None) -> None:
    """:func:`authorize` for a REST API key (``who`` carries the key's role): a refusal is
    ``FORBIDDEN``, the REST API's name for it. A key of a role with no rules (a training
    client's) is refused every action here, like any such role."""
    try:
        authorize(who, action, owner=owner)
    except NotAuthorized as exc:
        raise NotAuthorized(
            exc.message, ErrorCode.FORBIDDEN, hint=exc.hint, details=exc.details
        ) from exc


def authorize_study(who: Identity, study: str, users: list[str]) -> None:
    """Allow ``who`` to act in ``study`` (whose users are ``users``) or raise.

    The ``default`` study is open to every admin; in any other study only its users may act,
    except a project_admin, who may act in every study.

    Raises:
        NotAuthorized: NOT_AUTHORIZED naming the rule.
    """
    if study == "default" or who.role == "project_admin" or who.name in users:
        return
    _refuse(
        who,
        Action.SUBMIT,
        "only a study's users (and project_admin) may submit to it",
        f"{who.name} is not a user of study {study}",
    )


def _refuse(who: Identity, action: Action, rule: str, why: str) -> None:
    raise NotAuthorized(
        f"{who.name} ({who.role}) may not {action}: rule '{rule}' ({why})",
        hint="Ask a project_admin, or use a startup kit whose role allows this.",
        details={"rule": rule, "action": str(action), "role": who.role, "user": who.name},
    )


def policy_table() -> str:
    """The rules as a Markdown table: one row per action, one column per role."""
    roles = list(RULES)
    lines = [
        "| action | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    labels = {"all": "yes", "org": "own org", "own": "own jobs"}
    for action in Action:
        cells = [labels.get(allowed_scope(r, action) or "", "no") for r in roles]
        lines.append(f"| `{action}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
