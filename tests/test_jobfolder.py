"""Job folders: packing, validating and unpacking, with one error code per defect."""

from __future__ import annotations

import io
import json
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cohort.errors import CohortError, ErrorCode, InvalidRequest, PayloadTooLarge
from cohort.jobfolder import (
    CLIENT_CONFIG,
    SERVER_CONFIG,
    JobFolder,
    extract_job_zip,
    validate_job_zip,
    zip_job_folder,
)

EXAMPLE_JOB = Path(__file__).resolve().parent.parent / "examples" / "hello-numpy" / "job"


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A fresh copy of the hello-numpy job folder, ready to be broken."""
    dest = tmp_path / "job"
    shutil.copytree(EXAMPLE_JOB, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def zip_entries(entries: dict[str, bytes | str]) -> bytes:
    """A zip holding exactly ``entries`` (names written as given, unnormalised)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


def job_entries(job: Path) -> dict[str, bytes | str]:
    return dict(files_of(job))


def expect(code: ErrorCode, call: Callable[[], object]) -> CohortError:
    with pytest.raises(CohortError) as info:
        call()
    assert info.value.code == code, info.value
    return info.value


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data))


# ------------------------------------------------------------------------------- valid jobs


def test_example_job_validates(job: Path) -> None:
    folder = validate_job_zip(zip_job_folder(job))
    assert isinstance(folder, JobFolder)
    assert folder.meta.name == "hello-numpy"
    assert folder.meta.min_clients == 2
    assert set(folder.server_configs) == {"app"}
    assert folder.server_configs["app"].workflow == "fedavg"
    assert folder.client_configs["app"].script == "custom/train.py"
    assert "meta.json" in folder.names
    assert f"app/{CLIENT_CONFIG}" in folder.names


def test_round_trip_gives_the_same_files(job: Path, tmp_path: Path) -> None:
    data = zip_job_folder(job)
    validate_job_zip(data)
    dest = tmp_path / "extracted"
    folder = extract_job_zip(data, dest)
    assert files_of(dest) == files_of(job)
    assert sorted(folder.names) == sorted(files_of(job))


def test_an_example_folder_stands_for_its_job(job: Path, tmp_path: Path) -> None:
    # `cohort simulate -j examples/hello-numpy`: the example keeps its job in job/.
    example = tmp_path / "example"
    example.mkdir()
    shutil.copytree(job, example / "job")
    (example / "README.md").write_text("not part of the job")
    assert zip_job_folder(example) == zip_job_folder(example / "job")


def test_zip_skips_pycache(job: Path) -> None:
    cache = job / "app" / "custom" / "__pycache__"
    cache.mkdir()
    (cache / "train.cpython-311.pyc").write_bytes(b"\x00compiled")
    with zipfile.ZipFile(io.BytesIO(zip_job_folder(job))) as zf:
        assert not any("__pycache__" in n for n in zf.namelist())


def test_one_wrapper_directory_is_accepted(job: Path, tmp_path: Path) -> None:
    data = zip_entries({f"my_job/{name}": body for name, body in job_entries(job).items()})
    folder = validate_job_zip(data)
    assert "meta.json" in folder.names
    dest = tmp_path / "out"
    extract_job_zip(data, dest)
    assert files_of(dest) == files_of(job)


def test_two_top_folders_are_not_a_wrapper(job: Path) -> None:
    entries = {f"my_job/{name}": body for name, body in job_entries(job).items()}
    entries["other/readme.txt"] = "x"
    expect(ErrorCode.JOB_META_MISSING, lambda: validate_job_zip(zip_entries(entries)))


def test_directory_entries_are_allowed(job: Path) -> None:
    entries: dict[str, bytes | str] = {"app/": b"", "app/custom/": b""}
    entries.update(job_entries(job))
    validate_job_zip(zip_entries(entries))


# ------------------------------------------------------------------------------- meta.json


def test_missing_meta_in_folder(job: Path) -> None:
    (job / "meta.json").unlink()
    expect(ErrorCode.JOB_META_MISSING, lambda: zip_job_folder(job))


def test_missing_meta_in_archive(job: Path) -> None:
    entries = job_entries(job)
    del entries["meta.json"]
    expect(ErrorCode.JOB_META_MISSING, lambda: validate_job_zip(zip_entries(entries)))


@pytest.mark.parametrize(
    "text", ["{not json", "", '{"name": "x", "deploy_map": ', "\xff", "[" * 100_000]
)
def test_malformed_meta_json(job: Path, text: str) -> None:
    (job / "meta.json").write_text(text, encoding="latin-1")
    expect(ErrorCode.JOB_META_INVALID, lambda: validate_job_zip(zip_job_folder(job)))


@pytest.mark.parametrize(
    "meta",
    [
        [],
        {"deploy_map": {"app": ["@ALL"]}},
        {"name": "", "deploy_map": {"app": ["@ALL"]}},
        {"name": "x"},
        {"name": "x", "deploy_map": {}},
        {"name": "x", "deploy_map": {"app": []}},
        {"name": "x", "deploy_map": {"../app": ["@ALL"]}},
        {"name": "x", "deploy_map": {"app": ["bad site!"]}},
        {"name": "x", "deploy_map": {"app": ["@ALL"]}, "min_clients": 0},
        {"name": "x", "deploy_map": {"app": ["@ALL"]}, "scheduling_timeout": -1},
    ],
)
def test_schema_invalid_meta(job: Path, meta: Any) -> None:
    write_json(job / "meta.json", meta)
    expect(ErrorCode.JOB_META_INVALID, lambda: validate_job_zip(zip_job_folder(job)))


# ------------------------------------------------------------------------------- apps


def test_unknown_workflow(job: Path) -> None:
    write_json(job / "app" / SERVER_CONFIG, {"workflow": "fedmagic", "args": {}})
    err = expect(ErrorCode.UNKNOWN_WORKFLOW, lambda: validate_job_zip(zip_job_folder(job)))
    assert "fedavg" in err.hint


@pytest.mark.parametrize(
    "args",
    [
        {"num_round": 5},
        {"num_rounds": 0},
        {"num_rounds": "many"},
        {"task_timeout": -1},
        {"wait_after_min": -0.5},
        {"min_clients": 0},
    ],
)
def test_invalid_workflow_args_are_refused_at_submit(job: Path, args: dict[str, Any]) -> None:
    write_json(job / "app" / SERVER_CONFIG, {"workflow": "fedavg", "args": args})
    err = expect(ErrorCode.INVALID_JOB_DEFINITION, lambda: validate_job_zip(zip_job_folder(job)))
    assert "fedavg" in err.message


def test_valid_workflow_args(job: Path) -> None:
    args = {"num_rounds": 2, "min_clients": 1, "task_timeout": 5, "final_validation": False}
    write_json(job / "app" / SERVER_CONFIG, {"workflow": "fedavg", "args": args})
    assert validate_job_zip(zip_job_folder(job)).server_configs["app"].args == args


def test_deploy_map_names_a_missing_app_folder(job: Path) -> None:
    write_json(
        job / "meta.json", {"name": "x", "deploy_map": {"app": ["server"], "gone": ["@ALL"]}}
    )
    expect(ErrorCode.DEPLOY_MAP_INVALID, lambda: validate_job_zip(zip_job_folder(job)))


def test_no_server_app(job: Path) -> None:
    write_json(job / "meta.json", {"name": "x", "deploy_map": {"app": ["site-1", "site-2"]}})
    expect(ErrorCode.DEPLOY_MAP_INVALID, lambda: validate_job_zip(zip_job_folder(job)))


def test_server_app_without_server_config(job: Path) -> None:
    (job / "app" / SERVER_CONFIG).unlink()
    expect(ErrorCode.DEPLOY_MAP_INVALID, lambda: validate_job_zip(zip_job_folder(job)))


def test_no_client_app(job: Path) -> None:
    (job / "app" / CLIENT_CONFIG).unlink()
    expect(ErrorCode.DEPLOY_MAP_INVALID, lambda: validate_job_zip(zip_job_folder(job)))


def test_client_config_names_a_missing_script(job: Path) -> None:
    write_json(job / "app" / CLIENT_CONFIG, {"script": "custom/nope.py"})
    err = expect(ErrorCode.INVALID_JOB_DEFINITION, lambda: validate_job_zip(zip_job_folder(job)))
    assert "nope.py" in err.message


def test_client_script_outside_the_app(job: Path) -> None:
    write_json(job / "app" / CLIENT_CONFIG, {"script": "../meta.json"})
    expect(ErrorCode.UNSAFE_PATH, lambda: validate_job_zip(zip_job_folder(job)))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (CLIENT_CONFIG, "{broken"),
        (CLIENT_CONFIG, json.dumps({"script": "custom/train.py", "unknown": 1})),
        (CLIENT_CONFIG, json.dumps({"script": ""})),
        (SERVER_CONFIG, json.dumps({"workflow": "fedavg", "extra": True})),
        (SERVER_CONFIG, "[]"),
    ],
)
def test_invalid_app_config(job: Path, name: str, content: str) -> None:
    (job / "app" / name).write_text(content)
    expect(ErrorCode.INVALID_JOB_DEFINITION, lambda: validate_job_zip(zip_job_folder(job)))


# ------------------------------------------------------------------------------- unsafe entries


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "app/../../x",
        "/x",
        "/etc/passwd",
        "app\\..\\x",
        "app\\custom\\x.py",
        "C:/x",
        "C:\\x",
        "d:x",
        ".",
    ],
)
def test_entries_escaping_the_folder(job: Path, name: str) -> None:
    entries = job_entries(job)
    entries[name] = "payload"
    err = expect(ErrorCode.UNSAFE_PATH, lambda: validate_job_zip(zip_entries(entries)))
    assert isinstance(err, InvalidRequest)


def test_symlink_entry(job: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in job_entries(job).items():
            zf.writestr(name, body)
        link = zipfile.ZipInfo("app/custom/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    expect(ErrorCode.UNSAFE_PATH, lambda: validate_job_zip(buf.getvalue()))


def test_symlink_in_folder_is_refused_by_zip(job: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the server")
    (job / "app" / "custom" / "secret.txt").symlink_to(outside)
    expect(ErrorCode.UNSAFE_PATH, lambda: zip_job_folder(job))


def test_symlinked_folder_is_refused_by_zip(job: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "data.csv").write_text("1,2")
    (job / "app" / "custom" / "data").symlink_to(outside, target_is_directory=True)
    expect(ErrorCode.UNSAFE_PATH, lambda: zip_job_folder(job))


def test_nothing_is_written_for_an_unsafe_archive(job: Path, tmp_path: Path) -> None:
    entries = job_entries(job)
    entries["../escaped.txt"] = "x"
    dest = tmp_path / "dest" / "job"
    expect(ErrorCode.UNSAFE_PATH, lambda: extract_job_zip(zip_entries(entries), dest))
    assert not dest.exists()
    assert not (tmp_path / "dest" / "escaped.txt").exists()


# ------------------------------------------------------------------------------- size limits


def test_archive_over_the_size_limit(job: Path) -> None:
    data = zip_job_folder(job)
    err = expect(ErrorCode.JOB_TOO_LARGE, lambda: validate_job_zip(data, max_bytes=len(data) - 1))
    assert isinstance(err, PayloadTooLarge)
    assert err.http_status == 413


def test_folder_over_the_size_limit(job: Path) -> None:
    expect(ErrorCode.JOB_TOO_LARGE, lambda: zip_job_folder(job, max_bytes=1000))


def test_zip_bomb_declared_sizes_over_the_limit(job: Path, tmp_path: Path) -> None:
    entries = job_entries(job)
    entries["app/custom/zeros.bin"] = b"\x00" * (4 * 1024 * 1024)
    data = zip_entries(entries)
    limit = 1024 * 1024
    assert len(data) < limit  # the archive itself is small: only inflating it is not
    expect(ErrorCode.JOB_TOO_LARGE, lambda: validate_job_zip(data, max_bytes=limit))
    dest = tmp_path / "bomb"
    expect(ErrorCode.JOB_TOO_LARGE, lambda: extract_job_zip(data, dest, max_bytes=limit))
    assert not dest.exists()


# ------------------------------------------------------------------------------- not a zip


@pytest.mark.parametrize("data", [b"", b"hello", b"PK\x03\x04garbage", json.dumps({}).encode()])
def test_not_a_zip(data: bytes) -> None:
    expect(ErrorCode.INVALID_JOB_DEFINITION, lambda: validate_job_zip(data))


def test_damaged_member_is_refused_before_anything_is_written(job: Path, tmp_path: Path) -> None:
    data = bytearray(zip_job_folder(job))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("app/custom/train.py")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    dest = tmp_path / "damaged"
    expect(ErrorCode.INVALID_JOB_DEFINITION, lambda: extract_job_zip(bytes(data), dest))
    assert not dest.exists()


# ------------------------------------------------------------------------------- layouts that
# cannot be unpacked as written: refused before anything is written


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"app/custom/train.py/inner": "x"}, ErrorCode.INVALID_JOB_DEFINITION),  # file and folder
        ({"meta.json/x": "x"}, ErrorCode.INVALID_JOB_DEFINITION),
        ({"app/custom/" + "a" * 256: "x"}, ErrorCode.INVALID_JOB_DEFINITION),
        ({"/".join(["d" * 200] * 6): "x"}, ErrorCode.INVALID_JOB_DEFINITION),
        ({"app/custom/a\nb.py": "x"}, ErrorCode.UNSAFE_PATH),
        ({"app/custom/a\x7f.py": "x"}, ErrorCode.UNSAFE_PATH),
    ],
)
def test_unwritable_layouts(
    job: Path, tmp_path: Path, extra: dict[str, str], code: ErrorCode
) -> None:
    entries = job_entries(job)
    entries.update(extra)
    dest = tmp_path / "dest"
    expect(code, lambda: extract_job_zip(zip_entries(entries), dest))
    assert not dest.exists()


def test_an_entry_named_twice_is_refused(job: Path) -> None:
    buf = io.BytesIO()
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "w") as zf:
        for name, content in job_entries(job).items():
            zf.writestr(name, content)
        zf.writestr("app/./custom/train.py", "print('the other one')")  # same file, spelt apart
        zf.writestr("app/custom/train.py", "print('the other one')")
    err = expect(ErrorCode.INVALID_JOB_DEFINITION, lambda: validate_job_zip(buf.getvalue()))
    assert "twice" in str(err)


@pytest.mark.parametrize(
    "text", ['{"name": NaN}', '{"name": "a\\u0000"}', "[" * 70 + "]" * 70, '{"x": "\\ud800"}']
)
def test_meta_that_a_store_could_not_keep(job: Path, text: str) -> None:
    (job / "meta.json").write_text(text)
    expect(ErrorCode.JOB_META_INVALID, lambda: validate_job_zip(zip_job_folder(job)))
