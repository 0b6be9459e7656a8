"""A site's own policy file: what it refuses, and that a broken file refuses everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from cohort.site.policy import POLICY_FILE, check_job, custom_code_files, load_site_policy


@pytest.fixture
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    (folder / "custom").mkdir(parents=True)
    (folder / "custom" / "train.py").write_text("print('hi')\n")
    return folder


def write(local: Path, text: str) -> Path:
    local.mkdir(exist_ok=True)
    (local / POLICY_FILE).write_text(text)
    return local


def test_no_file_refuses_nothing(tmp_path: Path, app: Path) -> None:
    assert load_site_policy(tmp_path).allow_custom_code
    assert check_job(tmp_path, app, "ann", "lead") is None


def test_refused_roles_and_submitters(tmp_path: Path, app: Path) -> None:
    local = write(tmp_path / "local", '{"refuse_roles": ["lead"], "refuse_submitters": ["bob"]}')
    assert "role lead are refused" in str(check_job(local, app, "ann", "lead"))
    assert "by bob are refused" in str(check_job(local, app, "bob", "project_admin"))
    assert check_job(local, app, "ann", "project_admin") is None


def test_custom_code_refused_only_when_there_is_some(tmp_path: Path, app: Path) -> None:
    local = write(tmp_path / "local", '{"allow_custom_code": false}')
    assert "custom code" in str(check_job(local, app, "ann", "lead"))
    (app / "custom" / "train.py").unlink()
    assert check_job(local, app, "ann", "lead") is None


@pytest.mark.parametrize("text", ["{not json", '{"allow_custom_code": "maybe"}', '{"x": 1}'])
def test_a_broken_policy_refuses_every_job(tmp_path: Path, app: Path, text: str) -> None:
    local = write(tmp_path / "local", text)
    reason = check_job(local, app, "ann", "project_admin")
    assert reason is not None and "invalid site policy" in reason


def test_code_anywhere_in_the_app_is_custom_code(tmp_path: Path) -> None:
    """A script outside custom/ (config.script may name any file of the app), a module beside
    it, or a link is code the job brings; configuration and data are not."""
    local = write(tmp_path / "local", '{"allow_custom_code": false}')
    app = tmp_path / "app"
    (app / "config").mkdir(parents=True)
    (app / "config" / "config_fed_client.json").write_text('{"script": "train.py"}')
    (app / "initial.safetensors").write_bytes(b"\0" * 8)
    assert check_job(local, app, "ann", "lead") is None
    (app / "train.py").write_text("print('outside custom/')\n")
    assert "custom code (train.py)" in str(check_job(local, app, "ann", "lead"))
    (app / "train.py").unlink()
    (app / "lib").mkdir()
    (app / "lib" / "helper.so").write_bytes(b"\x7fELF")
    assert "lib/helper.so" in str(check_job(local, app, "ann", "lead"))


def test_cohorts_own_builtin_script_is_not_custom_code(tmp_path: Path) -> None:
    """The built-in app (REST experiments, edge sessions) runs on a site that allows no custom
    code, as long as its script is byte for byte the one Cohort ships."""
    from cohort.recipes.scripts import TABULAR_SOFTMAX

    local = write(tmp_path / "local", '{"allow_custom_code": false}')
    app = tmp_path / "app"
    (app / "custom").mkdir(parents=True)
    script = app / "custom" / TABULAR_SOFTMAX.name
    script.write_bytes(TABULAR_SOFTMAX.read_bytes())
    assert custom_code_files(app) == []
    assert check_job(local, app, "ann", "lead") is None
    script.write_bytes(TABULAR_SOFTMAX.read_bytes() + b"\nprint('changed')\n")
    assert custom_code_files(app) == [f"custom/{TABULAR_SOFTMAX.name}"]
