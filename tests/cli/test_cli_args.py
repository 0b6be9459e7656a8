"""The job command line without a server: schemas, argument errors, validation, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from cohort.cli.job import job
from cohort.cli.main import cli
from cohort.recipes import RECIPES
from tests.cli.helpers import envelope, events, run


def all_commands() -> list[tuple[str, ...]]:
    """Every leaf command under `cohort job`, `cohort recipe` and `cohort config`."""
    found: list[tuple[str, ...]] = []
    for group_name in ("job", "recipe", "config"):
        group = cli.commands[group_name]
        assert isinstance(group, click.Group)
        found += [(group_name, name) for name in group.commands]
    return found


def test_every_seed_subcommand_exists() -> None:
    expected = {
        "submit", "wait", "monitor", "list", "abort", "meta", "logs", "log-config", "stats",
        "download", "clone", "delete", "list_templates", "create", "show_variables",
    }  # fmt: skip
    assert set(job.commands) == expected


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_schema_is_json_for_every_command_regardless_of_format(command: tuple[str, ...]) -> None:
    for extra in ([], ["--format", "txt"], ["--format", "json"]):
        result = run(*command, "--schema", *extra)
        assert result.exit_code == 0, result.output
        schema = json.loads(result.stdout)
        assert schema["command"] == "cohort " + " ".join(command)
        assert isinstance(schema["mutating"], bool) and isinstance(schema["idempotent"], bool)
        assert isinstance(schema["retry_token"]["supported"], bool)
        assert "json" in schema["output_formats"]
        for arg in schema["arguments"]:
            assert {"name", "kind", "type", "required", "default"} <= set(arg)
            if arg["required"]:  # no default: null, not a library's sentinel spelled out
                assert arg["default"] is None, arg
        assert set(schema["exit_codes"]) == {"0", "1", "2", "3", "4"}


def schema(*command: str) -> dict[str, object]:
    result = run(*command, "--schema")
    assert result.exit_code == 0
    data: dict[str, object] = json.loads(result.stdout)
    return data


def args_of(data: dict[str, object]) -> dict[str, dict[str, object]]:
    arguments = data["arguments"]
    assert isinstance(arguments, list)
    return {a["name"]: a for a in arguments}


def test_schema_describes_submit_and_list_tokens() -> None:
    submit = schema("job", "submit")
    assert submit["mutating"] is True and submit["idempotent"] is False
    assert submit["retry_token"] == {"supported": True, "option": "--submit-token"}
    listing = schema("job", "list")
    assert "submit_token" in args_of(listing)
    assert listing["retry_token"] == {"supported": False, "option": None}
    assert listing["mutating"] is False and listing["idempotent"] is True


def test_schema_carries_types_defaults_and_bounds() -> None:
    wait = args_of(schema("job", "wait"))
    assert wait["job_id"]["kind"] == "positional" and wait["job_id"]["required"] is True
    assert wait["timeout"]["type"] == "number" and wait["timeout"]["default"] == 0.0
    assert wait["timeout"]["minimum"] == 0
    assert wait["interval"]["default"] == 2.0 and wait["interval"]["exclusiveMinimum"] == 0
    assert wait["study"]["default"] == "default"
    monitor = schema("job", "monitor")
    assert monitor["output_formats"] == ["txt", "json", "jsonl"]
    margs = args_of(monitor)
    assert margs["stats_target"]["choices"] == ["server", "client", "all"]
    assert margs["metrics"]["multiple"] is True
    logs = args_of(schema("job", "logs"))
    assert logs["site"]["flags"] == ["--site", "--sites"] and logs["site"]["default"] == "server"
    assert logs["max_bytes"]["type"] == "integer" and logs["max_bytes"]["minimum"] == 1
    assert args_of(schema("job", "stats"))["site"]["default"] == "all"
    assert args_of(schema("job", "log-config"))["site"]["default"] == "all"
    assert args_of(schema("job", "download"))["force"]["type"] == "boolean"


def test_argument_error_human_prints_help_then_error_and_hint() -> None:
    result = run("job", "wait", "some-job", "--timeout", "-1")
    assert result.exit_code == 4
    assert result.stdout == ""
    err = result.stderr
    assert err.index("Usage: cohort job wait") < err.index("INVALID_ARGS") < err.index("Hint:")
    assert "--timeout" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["job", "wait", "j1", "--timeout", "-1", "--format", "json"],
        ["job", "wait", "--format", "json", "j1", "--interval", "0"],
        ["job", "meta", "--format=json"],  # the job id is missing
        ["job", "monitor", "j1", "--interval", "-2", "--format", "json"],
        ["job", "logs", "j1", "--tail", "-1", "--format", "json"],
        ["job", "logs", "j1", "--max-bytes", "0", "--format", "json"],
        ["job", "logs", "j1", "--since", "yesterday", "--format", "json"],
        ["job", "logs", "j1", "--site", "../etc", "--format", "json"],
        ["job", "stats", "j1", "--sites", "a b", "--format", "json"],
        ["job", "log-config", "j1", "LOUD", "--format", "json"],
        ["job", "list", "--max", "0", "--format", "json"],
        ["job", "list", "--submit-token", "has space", "--format", "json"],
        ["job", "submit", "--submit-token", "x" * 129, "--format", "json"],
        ["job", "submit", "--submit-token", "", "--format", "json"],
        ["job", "submit", "--submit-token", "tök", "--format", "json"],
        ["job", "submit", "--study", "all", "--format", "json"],
        ["job", "submit", "-f", "config.json", "--format", "json"],
        ["job", "monitor", "j1", "--stats-target", "nowhere", "--format", "json"],
        ["job", "wait", "j1", "--no-such-flag", "--format", "json"],
    ],
)
def test_argument_errors_in_json_print_only_the_envelope(argv: list[str]) -> None:
    result = run(*argv)
    assert result.exit_code == 4, result.output
    env = envelope(result)
    assert env["error_code"] == "INVALID_ARGS"
    assert env["message"] and "--help" in env["hint"]
    assert "Usage:" not in result.stderr


def test_argument_error_in_jsonl_is_a_terminal_error_event() -> None:
    result = run("job", "monitor", "j1", "--timeout", "-5", "--format", "jsonl")
    assert result.exit_code == 4
    (event,) = events(result)
    assert event["terminal"] is True and event["status"] == "error"
    assert event["error_code"] == "INVALID_ARGS"


@pytest.mark.parametrize(
    "token", ["a", "A-b_c.d:e", "x" * 128, "550e8400-e29b-41d4-a716-446655440000"]
)
def test_valid_submit_tokens_pass_validation(token: str, tmp_path: Path) -> None:
    folder = tmp_path / "job"
    folder.mkdir()
    result = run("job", "submit", "-j", str(folder), "--submit-token", token, "--format", "json")
    # Past argument checks; it fails later, on the missing meta.json, not on the token.
    assert envelope(result)["error_code"] == "JOB_META_MISSING"


def test_no_startup_kit_fails_before_connecting_with_exit_2() -> None:
    result = run("job", "list", "--format", "json")
    assert result.exit_code == 2
    env = envelope(result)
    assert env["error_code"] == "STARTUP_KIT_MISSING"
    assert "cohort config use" in env["hint"]
    human = run("job", "meta", "j1")
    assert human.exit_code == 2 and "STARTUP_KIT_MISSING" in human.stderr


def test_download_refuses_an_existing_folder_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job-1").mkdir()
    result = run("job", "download", "job-1", "--format", "json")
    assert result.exit_code == 4
    env = envelope(result)
    assert env["error_code"] == "OUTPUT_DIR_EXISTS"
    assert env["data"]["path"] == str(tmp_path / "job-1")
    (tmp_path / "out" / "job-1").mkdir(parents=True)
    human = run("job", "download", "job-1", "-o", str(tmp_path / "out"))
    assert human.exit_code == 4 and "--force" in human.stderr
    # With --force it goes on (and fails later, at the missing startup kit: exit 2).
    assert run("job", "download", "job-1", "--force").exit_code == 2


@pytest.mark.parametrize("command", ["abort", "delete"])
def test_abort_and_delete_refuse_without_a_terminal_or_force(command: str) -> None:
    result = run("job", command, "job-1", "--format", "json")  # CliRunner stdin: not a tty
    assert result.exit_code == 4
    env = envelope(result)
    assert env["error_code"] == "CONFIRMATION_REQUIRED" and "--force" in env["hint"]
    human = run("job", command, "job-1", "--study", "s1")
    assert human.exit_code == 4 and "stdin is not a terminal" in human.stderr
    # --force skips the prompt (and then needs a startup kit: exit 2).
    assert run("job", command, "job-1", "--force").exit_code == 2


def test_deprecated_list_templates_lists_recipes_with_notice() -> None:
    result = run("job", "list_templates", "--format", "json")
    assert result.exit_code == 0
    data = envelope(result)["data"]
    assert data["deprecation"]["replacement"] == "cohort recipe list"
    assert [r["name"] for r in data["recipes"]] == list(RECIPES)
    assert "DEPRECATED" in result.stderr
    human = run("job", "list_templates")
    assert human.exit_code == 0 and "fedavg" in human.stdout and "DEPRECATED" in human.stderr


def test_deprecated_create_fails_naming_the_replacement() -> None:
    result = run("job", "create", "-j", "x", "-w", "sag_pt", "--format", "json")
    assert result.exit_code == 4
    env = envelope(result)
    assert env["error_code"] == "COMMAND_DEPRECATED"
    assert "python job.py --export --export-dir" in env["hint"]
    assert "cohort job submit -j" in env["data"]["deprecation"]["replacement"]
    human = run("job", "create")
    assert human.exit_code == 4 and "COMMAND_DEPRECATED" in human.stderr


def test_deprecated_show_variables_shows_a_job_folders_values() -> None:
    folder = Path(__file__).resolve().parents[2] / "examples" / "hello-numpy" / "job"
    result = run("job", "show_variables", "-j", str(folder), "--format", "json")
    assert result.exit_code == 0
    data = envelope(result)["data"]
    assert data["variables"]["app/config/config_fed_server.json"]["args"]["num_rounds"] == 5
    assert data["deprecation"]["command"] == "cohort job show_variables"
    human = run("job", "show_variables", "-j", str(folder))
    assert human.exit_code == 0 and "num_rounds" in human.stdout


def test_recipe_list_human_and_json() -> None:
    result = run("recipe", "list", "--format", "json")
    recipes = envelope(result)["data"]["recipes"]
    assert recipes[0]["name"] == "fedavg"
    assert recipes[0]["class_path"] == "cohort.recipes.FedAvgRecipe"
    human = run("recipe", "list")
    assert human.exit_code == 0 and "FedAvgRecipe" in human.stdout


def test_submit_of_missing_folder_is_invalid_args(tmp_path: Path) -> None:
    result = run("job", "submit", "-j", str(tmp_path / "nope"), "--format", "json")
    assert envelope(result)["error_code"] == "INVALID_ARGS"
    assert result.exit_code == 4


def test_help_lists_commands_in_the_documented_order() -> None:
    result = run("job", "-h")
    assert result.exit_code == 0
    order = ["submit", "wait", "monitor", "list ", "abort", "meta", "logs", "log-config"]
    positions = [result.stdout.index(f"  {name}") for name in order]
    assert positions == sorted(positions)
    flat = " ".join(result.stdout.split())  # the help wraps long lines
    for line in (
        "submit submit job",
        "wait wait for a job and return one final JSON envelope",
        "monitor wait for a job and stream progress to stderr",
        "logs retrieve job logs from the server-side log store",
        "list_templates [DEPRECATED] use 'cohort recipe list'",
        "create [DEPRECATED] use 'python job.py --export --export-dir <job_folder>' + "
        "'cohort job submit -j <job_folder>'",
        "show_variables [DEPRECATED] use 'cohort recipe list' or the Job Recipe API",
    ):
        assert line in flat
    assert "..." not in result.stdout.split("Commands:")[1]  # no short help is cut
