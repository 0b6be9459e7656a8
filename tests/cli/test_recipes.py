"""FedAvgRecipe and examples/hello-numpy/job.py export a job folder equivalent to the example's,
and the submit-token content hash ignores a single wrapper folder."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cohort.errors import CohortError, ErrorCode
from cohort.jobcontent import job_content_sha256
from cohort.jobfolder import validate_job_zip, zip_job_folder
from cohort.recipes import FedAvgRecipe, JobLogReceiver, JobLogStreamer
from cohort.schemas.job import ClientAppConfig, JobMeta
from cohort.workflows.fedavg import FedAvgArgs

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello-numpy" / "job"


def read(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_hello_numpy_job_py_exports_an_equivalent_job_folder(tmp_path: Path) -> None:
    out = tmp_path / "exported"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE.parent / "job.py"), "--export", "--export-dir", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cohort job submit -j" in done.stderr
    assert JobMeta.model_validate(read(out / "meta.json")) == JobMeta.model_validate(
        read(EXAMPLE / "meta.json")
    )
    cfg = "app/config/config_fed_server.json"
    mine, theirs = read(out / cfg), read(EXAMPLE / cfg)
    assert mine["workflow"] == theirs["workflow"] == "fedavg"
    assert FedAvgArgs.model_validate(mine["args"]) == FedAvgArgs.model_validate(theirs["args"])
    client = "app/config/config_fed_client.json"
    assert ClientAppConfig.model_validate(read(out / client)) == ClientAppConfig.model_validate(
        read(EXAMPLE / client)
    )
    for name in ("train.py", "hello_numpy_lib.py"):
        assert (out / "app/custom" / name).read_bytes() == (
            EXAMPLE / "app/custom" / name
        ).read_bytes()
    validate_job_zip(zip_job_folder(out))  # the server would take it


def test_job_py_without_export_explains_itself(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE.parent / "job.py")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--export --export-dir" in done.stderr


def test_recipe_refuses_a_non_empty_target_and_bad_arguments(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    recipe = FedAvgRecipe(name="r", train_script=script, num_rounds=2, sites=["site-1"])
    target = recipe.export(tmp_path / "job")
    assert read(target / "meta.json")["deploy_map"] == {"app": ["site-1", "server"]}
    with pytest.raises(CohortError) as info:
        recipe.export(target)
    assert info.value.code == ErrorCode.OUTPUT_DIR_EXISTS
    with pytest.raises(ValueError):
        FedAvgRecipe(name="r", train_script=script, num_rounds=0)


def zip_with_wrapper(folder: Path, wrapper: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*"), reverse=True):  # another order, same content
            rel = path.relative_to(folder).as_posix()
            if path.is_file():
                zf.write(path, f"{wrapper}/{rel}")
            else:
                zf.writestr(f"{wrapper}/{rel}/", "")
    return buf.getvalue()


def content(data: bytes) -> str:
    return job_content_sha256(data, validate_job_zip(data))


def test_content_hash_ignores_one_wrapper_folder_but_not_content(tmp_path: Path) -> None:
    direct = zip_job_folder(EXAMPLE)
    wrapped = zip_with_wrapper(EXAMPLE, "my_job")
    assert content(direct) == content(wrapped)
    copy = tmp_path / "job"
    shutil.copytree(EXAMPLE, copy)
    (copy / "app/custom/train.py").write_text("# changed\n")
    assert content(zip_job_folder(copy)) != content(direct)
    # One more file is different content too, even when every other byte is the same.
    extra = tmp_path / "extra"
    shutil.copytree(EXAMPLE, extra)
    (extra / "README").write_text("notes\n")
    assert content(zip_job_folder(extra)) != content(direct)


def test_recipe_job_components_land_in_the_app_configs(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    plain = FedAvgRecipe(name="r", train_script=script).export(tmp_path / "plain")
    assert "components" not in read(plain / "app/config/config_fed_client.json")
    assert "log_streaming" not in read(plain / "meta.json")
    recipe = FedAvgRecipe(name="r", train_script=script)
    recipe.job.to_clients(JobLogStreamer())
    recipe.job.to_clients(JobLogStreamer(log_file_name="log.json"))  # replaces the first
    recipe.job.to_server(JobLogReceiver())
    out = recipe.export(tmp_path / "streamed")
    client = ClientAppConfig.model_validate(read(out / "app/config/config_fed_client.json"))
    assert client.log_streamer() == JobLogStreamer(log_file_name="log.json")
    assert read(out / "app/config/config_fed_server.json")["components"] == [
        {"type": "job_log_receiver"}
    ]
    validate_job_zip(zip_job_folder(out))
    with pytest.raises(TypeError):
        recipe.job.to_clients(JobLogReceiver())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        recipe.job.to_server(JobLogStreamer())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        JobLogStreamer(log_file_name="log.xml")
