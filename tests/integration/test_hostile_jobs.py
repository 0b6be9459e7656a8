"""Hostile job folders sent to a real server: each is refused with its error code, the server
answers the next request, and nothing of it remains in the store or the artifact store.

One server (a POC with no site started) takes every archive in turn; after each refusal the
test lists the jobs (none), and walks the artifact root (no file). Archives are built here
byte by byte, as an attacker would, not with the client's packer (which refuses most of them
before sending: that side is covered at the end).
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cohort.errors import CohortError, ErrorCode
from cohort.jobfolder import DEFAULT_MAX_JOB_BYTES
from tests.integration.federation import HELLO_NUMPY, Federation

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("hostile")]

Entries = list[tuple[str, bytes]]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """A running server (no sites needed: nothing may get as far as scheduling)."""
    tmp = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COHORT_HOME", str(tmp / "home"))
        federation = Federation(tmp, 1)
        try:
            yield federation.start(sites=[])
        finally:
            federation.stop()


def good_entries() -> Entries:
    """The hello-numpy job, file by file."""
    return [
        (p.relative_to(HELLO_NUMPY).as_posix(), p.read_bytes())
        for p in sorted(HELLO_NUMPY.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]


def replaced(name: str, content: bytes) -> Entries:
    return [(n, content if n == name else c) for n, c in good_entries()]


def meta_with(**fields: object) -> dict[str, object]:
    meta: dict[str, object] = json.loads(dict(good_entries())["meta.json"])
    meta.update(fields)
    return meta


def zip_of(entries: Entries, modes: dict[str, int] | None = None) -> bytes:
    """A zip holding exactly ``entries``, names as given (unnormalised, duplicates kept)."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, content in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if modes and name in modes:
                info.external_attr = modes[name] << 16
            zf.writestr(info, content)
    return buf.getvalue()


def lying_sizes(data: bytes, name: str, declared: int) -> bytes:
    """``data`` with ``name``'s uncompressed size rewritten to ``declared`` in both headers."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
        pos: int = zf.start_dir  # type: ignore[attr-defined]
    struct.pack_into("<I", out, info.header_offset + 22, declared)  # local file header
    while data[pos + 46 : pos + 46 + len(name)] != name.encode():  # central directory records
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + n + m + k
    struct.pack_into("<I", out, pos + 24, declared)
    return bytes(out)


def bomb(size: int) -> bytes:
    return zip_of([*good_entries(), ("app/custom/zeros.bin", b"\0" * size)])


def deep(levels: int) -> dict[str, object]:
    return meta_with(resource_spec=json.loads('{"x": ' + "[" * levels + "]" * levels + "}"))


# name -> (archive, expected code); each a different way to break a job folder.
CASES: dict[str, tuple[Callable[[], bytes], ErrorCode]] = {
    "zip slip ../": (
        lambda: zip_of([*good_entries(), ("app/../../escaped.py", b"x")]),
        ErrorCode.UNSAFE_PATH,
    ),
    "absolute path": (
        lambda: zip_of([*good_entries(), ("/tmp/x.py", b"x")]),
        ErrorCode.UNSAFE_PATH,
    ),
    "windows drive": (lambda: zip_of([*good_entries(), ("C:/x.py", b"x")]), ErrorCode.UNSAFE_PATH),
    "backslash": (lambda: zip_of([*good_entries(), ("..\\x.py", b"x")]), ErrorCode.UNSAFE_PATH),
    "control character": (
        lambda: zip_of([*good_entries(), ("app/custom/a\nb.py", b"x")]),
        ErrorCode.UNSAFE_PATH,
    ),
    "symlink entry": (
        lambda: zip_of(
            [*good_entries(), ("app/custom/link", b"/etc/passwd")], {"app/custom/link": 0o120777}
        ),
        ErrorCode.UNSAFE_PATH,
    ),
    "entry twice": (
        lambda: zip_of([*good_entries(), ("app/custom/train.py", b"print('other')")]),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "file and folder": (
        lambda: zip_of([*good_entries(), ("app/custom/train.py/x", b"x")]),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "name too long": (
        lambda: zip_of([*good_entries(), ("app/custom/" + "a" * 300, b"x")]),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "zip bomb (declared size)": (
        lambda: bomb(DEFAULT_MAX_JOB_BYTES + 1),
        ErrorCode.JOB_TOO_LARGE,
    ),
    "zip bomb (lying header)": (
        lambda: lying_sizes(bomb(8 * 1024 * 1024), "app/custom/zeros.bin", 1000),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "many entries": (
        lambda: zip_of([*good_entries(), *((f"app/custom/f{i}", b"") for i in range(10_001))]),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "not a zip": (lambda: b"PK\x03\x04" + b"\x00" * 100, ErrorCode.INVALID_JOB_DEFINITION),
    "truncated zip": (lambda: zip_of(good_entries())[:-30], ErrorCode.INVALID_JOB_DEFINITION),
    "invalid JSON meta": (
        lambda: zip_of(replaced("meta.json", b'{"name": "x",')),
        ErrorCode.JOB_META_INVALID,
    ),
    "deeply nested meta": (
        lambda: zip_of(replaced("meta.json", json.dumps(deep(500)).encode())),
        ErrorCode.JOB_META_INVALID,
    ),
    "parser-breaking nesting": (
        lambda: zip_of(replaced("meta.json", b"[" * 200_000 + b"]" * 200_000)),
        ErrorCode.JOB_META_INVALID,
    ),
    "NaN in meta": (
        lambda: zip_of(replaced("meta.json", json.dumps(meta_with(x=float("nan"))).encode())),
        ErrorCode.JOB_META_INVALID,
    ),
    "NUL in meta": (
        lambda: zip_of(replaced("meta.json", json.dumps(meta_with(x="a\0b")).encode())),
        ErrorCode.JOB_META_INVALID,
    ),
    "lone surrogate in meta": (
        lambda: zip_of(replaced("meta.json", json.dumps(meta_with(x="\ud800")).encode())),
        ErrorCode.JOB_META_INVALID,
    ),
    "UTF-16 meta": (
        lambda: zip_of(replaced("meta.json", json.dumps(meta_with()).encode("utf-16"))),
        ErrorCode.JOB_META_INVALID,
    ),
    "Latin-1 meta": (
        lambda: zip_of(replaced("meta.json", '{"name": "caf\xe9"}'.encode("latin-1"))),
        ErrorCode.JOB_META_INVALID,
    ),
    "invalid JSON config": (
        lambda: zip_of(replaced("app/config/config_fed_server.json", b"{'workflow': 'fedavg'}")),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "deeply nested config": (
        lambda: zip_of(
            replaced(
                "app/config/config_fed_server.json",
                b'{"workflow": "fedavg", "args": {"x": ' + b"[" * 900 + b"]" * 900 + b"}}",
            )
        ),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
    "infinite number in config": (
        lambda: zip_of(
            replaced(
                "app/config/config_fed_server.json", b'{"workflow": "fedavg","args": {"x": 1e9999}}'
            )
        ),
        ErrorCode.INVALID_JOB_DEFINITION,
    ),
}


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def assert_no_trace(fed: Federation) -> None:
    """The server answers, lists no job, and keeps no file of a refused submit."""
    assert fed.api.system_info()["status"]
    assert fed.api.list_jobs() == []
    jobs = fed.server_ws() / "artifacts" / "jobs"
    assert not jobs.exists() or files_under(jobs) == []


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_archive_is_refused_and_leaves_nothing(fed: Federation, case: str) -> None:
    build, code = CASES[case]
    with pytest.raises(CohortError) as info:
        fed.api.submit(build())
    assert info.value.code == code, info.value
    assert_no_trace(fed)


def test_body_over_the_limit_is_refused_while_it_streams(fed: Federation) -> None:
    # Not even a zip: the server stops reading at the limit, before looking at the content.
    body = b"\0" * (DEFAULT_MAX_JOB_BYTES + 1024)
    try:
        fed.api.submit(body)
    except CohortError as exc:
        assert exc.code == ErrorCode.JOB_TOO_LARGE, exc
    except httpx.TransportError:
        pass  # the server may close the connection on the rest of the body; both refuse it
    else:
        raise AssertionError("an over-limit body was accepted")
    assert_no_trace(fed)


def test_symlinks_in_a_folder_are_refused_before_sending(fed: Federation, tmp_path: Path) -> None:
    job = tmp_path / "job"
    shutil.copytree(HELLO_NUMPY, job, ignore=shutil.ignore_patterns("__pycache__"))
    (job / "app" / "custom" / "secrets").symlink_to("/etc")
    with pytest.raises(CohortError) as info:
        fed.api.submit(job)
    assert info.value.code == ErrorCode.UNSAFE_PATH
    assert_no_trace(fed)


def test_a_good_job_still_goes_through_after_the_refusals(fed: Federation) -> None:
    # The same server, after every hostile case above: the path that stores a job still works
    # (so the refusals were refusals, not a broken submit).
    job_id = fed.api.submit(zip_of(good_entries())).job_id
    assert [j.job_id for j in fed.api.list_jobs()] == [job_id]
    assert "job.zip" in files_under(fed.server_ws() / "artifacts" / "jobs" / job_id)
    fed.api.delete_job(job_id)
