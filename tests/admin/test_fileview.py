"""File commands on a target stay inside its workspace and take allow-listed options only."""

from __future__ import annotations

from pathlib import Path

import pytest

from cohort.errors import CohortError, ErrorCode
from cohort.fileview import run_file_command


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "jobs").mkdir(parents=True)
    (ws / "log.txt").write_text(
        "".join(f"line {i} {'ERROR' if i % 5 == 0 else 'ok'}\n" for i in range(1, 31))
    )
    (ws / ".hidden").write_text("x")
    (tmp_path / "secret.txt").write_text("top secret\n")
    (ws / "escape").symlink_to(tmp_path / "secret.txt")
    (ws / "outdir").symlink_to(tmp_path)
    return ws


def test_ls_cat_head_tail_grep(root: Path) -> None:
    assert run_file_command(root, "ls").split() == ["escape", "jobs", "log.txt", "outdir"]
    assert ".hidden" in run_file_command(root, "ls", "-a")
    assert "log.txt" in run_file_command(root, "ls", "-l")
    assert run_file_command(root, "cat", path="log.txt").startswith("line 1 ok\n")
    assert run_file_command(root, "cat", "-n", "log.txt").startswith("     1\tline 1")
    assert run_file_command(root, "head", "-n 3", "log.txt") == "line 1 ok\nline 2 ok\nline 3 ok\n"
    assert run_file_command(root, "head", path="log.txt").count("\n") == 10
    assert run_file_command(root, "tail", "-2", "log.txt") == "line 29 ok\nline 30 ERROR\n"
    assert run_file_command(root, "grep", "-c", "log.txt", pattern="ERROR") == "6\n"
    assert run_file_command(root, "grep", "-n", "log.txt", pattern="line 5 ").startswith("5:")
    assert run_file_command(root, "grep", "-i", "log.txt", pattern="error").count("\n") == 6


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ("cat", "../secret.txt"),
        ("cat", "jobs/../../secret.txt"),
        ("cat", "/etc/passwd"),
        ("cat", "~/.bashrc"),
        ("cat", "escape"),  # a symlink pointing out of the workspace
        ("ls", "outdir"),
        ("ls", ".."),
        ("head", "outdir/secret.txt"),
        ("tail", "/tmp"),
        ("grep", "../secret.txt"),
    ],
)
def test_paths_never_leave_the_workspace(root: Path, command: str, path: str) -> None:
    with pytest.raises(CohortError) as caught:
        run_file_command(root, command, path=path, pattern="secret")
    assert caught.value.code == ErrorCode.UNSAFE_PATH


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("ls", "-R"),
        ("ls", "--color=always; rm -rf /"),
        ("cat", "-A"),
        ("head", "-c 5"),
        ("tail", "-f"),
        ("grep", "-r"),
        ("grep", "--include=*"),
        ("ls", "$(id)"),
    ],
)
def test_options_outside_the_allow_list_are_refused(root: Path, command: str, options: str) -> None:
    with pytest.raises(CohortError) as caught:
        run_file_command(root, command, options, path="log.txt", pattern="x")
    assert caught.value.code == ErrorCode.INVALID_ARGS


def test_other_commands_and_bad_patterns_are_refused(root: Path) -> None:
    for command, pattern in [("rm", None), ("grep", "("), ("grep", "")]:
        with pytest.raises(CohortError) as caught:
            run_file_command(root, command, path="log.txt", pattern=pattern)
        assert caught.value.code == ErrorCode.INVALID_ARGS
