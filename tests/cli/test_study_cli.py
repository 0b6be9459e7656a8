"""`cohort study` and `cohort provision` argument errors, reported before any connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import envelope, run


@pytest.mark.parametrize(
    "names",
    [
        ["--sites", "a", "--site-org", "org:a"],  # both forms
        [],  # neither
    ],
)
def test_exactly_one_site_form_before_connecting(names: list[str], tmp_path: Path) -> None:
    # the kit does not exist: the argument error must come first
    missing = str(tmp_path / "no-kit")
    result = run("study", "register", "onco", *names, "--startup-kit", missing, "--format", "json")
    assert result.exit_code == 4
    assert envelope(result)["error_code"] == "INVALID_ARGS"


def test_no_kit_fails_before_connecting(tmp_path: Path) -> None:
    result = run("study", "list", "--startup-kit", str(tmp_path / "no-kit"), "--format", "json")
    assert result.exit_code == 2
    assert envelope(result)["error_code"] == "STARTUP_KIT_MISSING"


def test_provision_init_then_provision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("provision", "--init").exit_code == 0
    refused = run("provision", "--init", "--format", "json")
    assert refused.exit_code == 4 and "already exists" in envelope(refused)["message"]
    made = envelope(run("provision", "-w", "out", "--format", "json"))["data"]
    assert made["ca_created"] and Path(made["prod_dir"]).name == "prod_00"
    again = envelope(run("provision", "-w", "out", "--format", "json"))["data"]
    assert not again["ca_created"] and Path(again["prod_dir"]).name == "prod_01"
    assert set(again["kits"]) == set(made["kits"])
