"""`cohort config add/use/list/remove` and the startup-kit resolution order."""

from __future__ import annotations

from pathlib import Path

import pytest

from cohort.admin.kits import resolve_admin_kit
from cohort.errors import CohortError, ErrorCode
from cohort.provision.poc import PocLayout, prepare_poc
from tests.cli.helpers import envelope, run


@pytest.fixture(scope="module")
def two_kits(tmp_path_factory: pytest.TempPathFactory) -> tuple[PocLayout, PocLayout]:
    """Two provisioned federations: two admin kits to tell apart (and a site kit)."""
    base = tmp_path_factory.mktemp("kits")
    return prepare_poc(base / "a", 1), prepare_poc(base / "b", 1)


def test_config_add_use_list_remove(two_kits: tuple[PocLayout, PocLayout]) -> None:
    a, b = two_kits
    added = envelope(run("config", "add", "alpha", str(a.admin_kit), "--format", "json"))
    assert added["data"] == {"kit_id": "alpha", "path": str(a.admin_kit.resolve()), "active": True}
    human = run("config", "add", "beta", str(b.admin_kit), "--no-activate")
    assert human.exit_code == 0 and "registered" in human.stderr
    listed = envelope(run("config", "list", "--format", "json"))["data"]
    assert listed["active"] == "alpha"
    assert [k["kit_id"] for k in listed["kits"]] == ["alpha", "beta"]
    table = run("config", "list")
    assert "alpha" in table.stdout and "*" in table.stdout
    used = envelope(run("config", "use", "beta", "--format", "json"))
    assert used["data"]["kit_id"] == "beta"
    assert resolve_admin_kit().dir == b.admin_kit.resolve()
    removed = envelope(run("config", "remove", "beta", "--format", "json"))
    assert removed["data"] == {"kit_id": "beta", "removed": True, "was_active": True}
    assert envelope(run("config", "list", "--format", "json"))["data"]["active"] is None


def test_config_errors(two_kits: tuple[PocLayout, PocLayout], tmp_path: Path) -> None:
    a, _ = two_kits
    not_admin = run("config", "add", "s1", str(a.site_kits["site-1"]), "--format", "json")
    assert envelope(not_admin)["error_code"] == "STARTUP_KIT_MISSING"
    prod_root = run("config", "add", "root", str(a.admin_kit.parent), "--format", "json")
    assert "not the broader prod_00 root" in envelope(prod_root)["hint"]
    bad_id = run("config", "add", "bad id", str(a.admin_kit), "--format", "json")
    assert envelope(bad_id)["error_code"] == "INVALID_ARGS"
    unknown = run("config", "use", "nope", "--format", "json")
    assert envelope(unknown)["error_code"] == "STARTUP_KIT_MISSING"
    assert run("config", "remove", "nope").exit_code == 2


def test_resolution_order_kit_id_then_startup_kit_then_env_then_active(
    two_kits: tuple[PocLayout, PocLayout], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_kits
    run("config", "add", "alpha", str(a.admin_kit))
    run("config", "add", "beta", str(b.admin_kit), "--no-activate")
    assert resolve_admin_kit().dir == a.admin_kit.resolve()  # the active kit
    monkeypatch.setenv("COHORT_STARTUP_KIT_DIR", str(b.admin_kit))
    assert resolve_admin_kit().dir == b.admin_kit  # env beats the active kit
    assert resolve_admin_kit(startup_kit=a.admin_kit).dir == a.admin_kit  # flag beats env
    assert resolve_admin_kit("beta", a.admin_kit).dir == b.admin_kit.resolve()  # id beats all
    # The overrides changed nothing: the active kit is still alpha.
    assert envelope(run("config", "list", "--format", "json"))["data"]["active"] == "alpha"


def test_an_invalid_source_fails_instead_of_falling_back(
    two_kits: tuple[PocLayout, PocLayout], tmp_path: Path
) -> None:
    a, _ = two_kits
    run("config", "add", "alpha", str(a.admin_kit))
    with pytest.raises(CohortError) as info:
        resolve_admin_kit(startup_kit=tmp_path / "missing")
    assert info.value.code == ErrorCode.STARTUP_KIT_MISSING
    site = run("job", "list", "--startup-kit", str(a.site_kits["site-1"]), "--format", "json")
    assert site.exit_code == 2
    assert envelope(site)["error_code"] == "STARTUP_KIT_MISSING"
    unknown = run("job", "list", "--kit-id", "nope", "--format", "json")
    assert unknown.exit_code == 2 and "alpha" in envelope(unknown)["hint"]


def test_registry_is_toml_a_human_can_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    from cohort.admin.kits import cohort_home, dump_toml, list_kits

    monkeypatch.setenv("COHORT_HOME", str(tmp_path / "home"))
    # Awkward ids and paths survive a write and a read (quotes, backslashes, '@', '.').
    config = {"startup_kits": {"active": "a@b.org", "ids": {"a@b.org": '/k/"x"\\y', "p.q": "/t"}}}
    (tmp_path / "home").mkdir()
    (cohort_home() / "config.toml").write_text(dump_toml(config))
    assert tomllib.loads((cohort_home() / "config.toml").read_text()) == config
    assert list_kits() == ("a@b.org", config["startup_kits"]["ids"])
    # A hand edit in plain TOML style is read the same way.
    (cohort_home() / "config.toml").write_text(
        '[startup_kits]\nactive = "p.q"\n\n[startup_kits.ids]\n"p.q" = "/t"\n'
    )
    assert list_kits() == ("p.q", {"p.q": "/t"})
    (cohort_home() / "config.toml").write_text("startup_kits = [broken")
    with pytest.raises(CohortError, match="not valid TOML"):
        list_kits()
