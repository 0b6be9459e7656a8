"""The authorization policy: the rules per role, the refusals naming their rule, and that every
admin route is guarded by one policy dependency."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from cohort.errors import NotAuthorized
from cohort.server.api import admin, observe, sites, studies
from cohort.server.api.guard import POLICY_ACTION
from cohort.server.policy import RULES, Action, authorize, authorize_study, policy_table
from cohort.tls import Identity


def who(role: str, name: str = "u", org: str = "org-a") -> Identity:
    return Identity(name=name, org=org, role=role)


@pytest.mark.parametrize("action", list(Action))
def test_project_admin_may_do_everything(action: Action) -> None:
    assert authorize(who("project_admin"), action, owner="someone", orgs={"org-z"}) == "all"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("org_admin", {Action.VIEW, Action.VIEW_AUDIT, Action.OPERATE_SITE, Action.MANAGE_STUDY,
                       Action.MANAGE_USERS}),
        ("lead", {Action.VIEW, Action.SUBMIT, Action.MANAGE_JOB, Action.OPERATE_SITE}),
        ("member", {Action.VIEW}),
        ("site", set()),
    ],
)  # fmt: skip
def test_each_role_is_allowed_exactly_its_actions(role: str, allowed: set[Action]) -> None:
    for action in Action:
        if action in allowed:
            authorize(who(role), action)
        else:
            with pytest.raises(NotAuthorized) as info:
                authorize(who(role), action)
            assert info.value.details["rule"] == f"{role} may not {action}"
            assert info.value.code == "NOT_AUTHORIZED"


def test_lead_manages_only_its_own_jobs() -> None:
    assert authorize(who("lead", "ann"), Action.MANAGE_JOB, owner="ann") == "own"
    with pytest.raises(NotAuthorized, match=r"only its own jobs. \(the job was submitted by bob\)"):
        authorize(who("lead", "ann"), Action.MANAGE_JOB, owner="bob")


def test_org_scopes_refuse_other_orgs_sites() -> None:
    authorize(who("org_admin"), Action.MANAGE_STUDY, orgs={"org-a"})
    authorize(who("lead"), Action.OPERATE_SITE, orgs={"org-a"})
    with pytest.raises(NotAuthorized) as info:
        authorize(who("org_admin"), Action.MANAGE_STUDY, orgs={"org-a", "org-b"})
    assert info.value.details["rule"] == "org_admin may study.manage only for its own org (org-a)"
    assert "org-b" in info.value.message


def test_study_users() -> None:
    authorize_study(who("lead", "ann"), "default", [])
    authorize_study(who("project_admin"), "s", [])
    authorize_study(who("lead", "ann"), "s", ["ann"])
    with pytest.raises(NotAuthorized, match="not a user of study s"):
        authorize_study(who("lead", "bob"), "s", ["ann"])


def test_policy_table_is_generated_from_the_rules() -> None:
    table = policy_table().splitlines()
    assert table[0] == "| action | " + " | ".join(RULES) + " |"
    assert "| `job.manage` | yes | no | own jobs | no |" in table
    assert "| `study.manage` | yes | own org | no | no |" in table
    assert len(table) == 2 + len(Action)


def test_every_admin_route_has_exactly_one_policy_dependency() -> None:
    routes = [r for m in (admin, observe, sites, studies) for r in m.router.routes]
    assert len(routes) >= 20
    for route in routes:
        assert isinstance(route, APIRoute)
        assert route.path.startswith("/admin/v1")
        actions = [
            getattr(d.call, POLICY_ACTION)
            for d in route.dependant.dependencies
            if hasattr(d.call, POLICY_ACTION)
        ]
        assert len(actions) == 1, f"{sorted(route.methods)} {route.path}: {actions}"
        if route.methods & {"POST", "DELETE"}:  # changes need more than viewing rights
            assert actions[0] != Action.VIEW, route.path


def test_security_page_shows_the_generated_table() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    assert policy_table() in page, "regenerate the table in docs/security.md from policy_table()"
