"""The compute package format (edgepackage.py): its layout and manifest rules, on top of the
job archive's hostile-archive checks that it shares (tests/test_jobfolder.py covers those)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cohort.edgepackage import unpack_package, validate_package
from cohort.errors import CohortError

LIMIT = 1024 * 1024
BAD = "INVALID_JOB_DEFINITION"


def zip_of(entries: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_without_a_manifest_the_entry_is_train_py(tmp_path: Path) -> None:
    data = zip_of({"train.py": "print(1)\n", "lib/helpers.py": "x = 1\n"})
    assert validate_package(data, LIMIT).entry == "train.py"
    unpack_package(data, tmp_path / "out", LIMIT)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in tmp_path.rglob("*.py")) == [
        "lib/helpers.py",
        "train.py",
    ]


def test_a_wrapper_folder_is_dropped_and_the_manifest_read(tmp_path: Path) -> None:
    manifest = '{"entry": "fit.py", "args": ["--n", "2"], "env": {"A": "1"}}'
    data = zip_of({"pkg/cohort-package.json": manifest, "pkg/fit.py": ""})
    got = unpack_package(data, tmp_path, LIMIT)
    assert (got.entry, got.args, got.env) == ("fit.py", ["--n", "2"], {"A": "1"})
    assert (tmp_path / "fit.py").is_file() and not (tmp_path / "pkg").exists()


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        (
            {"cohort-package.json": '{"entry": "fit.py", "extra": 1}', "fit.py": ""},
            "INVALID_JOB_DEFINITION",
        ),
        (
            {"cohort-package.json": '{"entry": "sub/fit.py"}', "sub/fit.py": ""},
            "INVALID_JOB_DEFINITION",
        ),
        ({"cohort-package.json": '{"args": [NaN]}', "train.py": ""}, "INVALID_JOB_DEFINITION"),
        ({"a/train.py": "", "b/x.py": ""}, "INVALID_JOB_DEFINITION"),  # two tops: no root entry
        ({"train.py": "x" * (LIMIT + 1)}, "JOB_TOO_LARGE"),  # declared size over the limit
    ],
    ids=["unknown-key", "nested-entry", "nan", "no-root-entry", "too-large"],
)
def test_refused_packages(entries: dict[str, str], code: str) -> None:
    with pytest.raises(CohortError) as err:
        validate_package(zip_of(entries), LIMIT)
    assert str(err.value.code) == code
