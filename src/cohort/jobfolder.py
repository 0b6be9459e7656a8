"""Job folders: packing one into a zip, and validating and unpacking a received zip safely.

A job folder is ``meta.json`` plus one folder per app, each with ``config/`` (server and/or
client configuration) and ``custom/`` (the user's code). Every defect gets its own error code,
and nothing is written until the whole archive has been checked.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from cohort.errors import ErrorCode, InvalidRequest, PayloadTooLarge
from cohort.schemas.job import ClientAppConfig, JobMeta, ServerAppConfig
from cohort.strictjson import loads_strict

__all__ = [
    "CLIENT_CONFIG",
    "DEFAULT_MAX_JOB_BYTES",
    "SERVER_CONFIG",
    "JobFolder",
    "checked_zip_names",
    "extract_job_zip",
    "read_json_entry",
    "strip_wrapper",
    "unpack_checked_zip",
    "validate_job_zip",
    "zip_job_folder",
]

SERVER_CONFIG = "config/config_fed_server.json"
CLIENT_CONFIG = "config/config_fed_client.json"
DEFAULT_MAX_JOB_BYTES = 50 * 1024 * 1024
_MAX_ENTRIES = 10_000
#: Largest meta.json or app configuration read.
_MAX_JSON_BYTES = 4 * 1024 * 1024
#: Longest entry name and path component most filesystems can create (bytes, as UTF-8).
_MAX_NAME_BYTES = 1024
_MAX_PART_BYTES = 255


@dataclass(frozen=True)
class JobFolder:
    """A validated job archive: its meta and its apps' configurations."""

    meta: JobMeta
    server_configs: dict[str, ServerAppConfig]
    client_configs: dict[str, ClientAppConfig]
    names: list[str]  # archive entries, relative to the job root


def _defect(code: ErrorCode, message: str, hint: str = "") -> InvalidRequest:
    return InvalidRequest(message, code=code, hint=hint)


def zip_job_folder(folder: Path, max_bytes: int = DEFAULT_MAX_JOB_BYTES) -> bytes:
    """Pack ``folder`` into a zip with entries relative to it.

    Symbolic links are refused rather than followed: a link could pull files from outside the
    job into the upload. An example folder that keeps its job in ``job/`` (``examples/hello-pt``
    holding ``job/meta.json``) is taken as that job, so ``-j examples/hello-pt`` works.
    """
    if not (folder / "meta.json").is_file() and (folder / "job" / "meta.json").is_file():
        folder = folder / "job"
    if not (folder / "meta.json").is_file():
        raise _defect(
            ErrorCode.JOB_META_MISSING,
            f"{folder} has no meta.json",
            hint="Point -j at the job folder itself (the one holding meta.json).",
        )
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                raise _defect(ErrorCode.UNSAFE_PATH, f"job folder contains a symbolic link: {rel}")
            if "__pycache__" in path.parts or not path.is_file():
                continue
            total += path.stat().st_size
            if total > max_bytes:
                raise PayloadTooLarge(
                    f"job folder is over the {max_bytes} byte limit", code=ErrorCode.JOB_TOO_LARGE
                )
            zf.write(path, rel)
    return buf.getvalue()


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in ("..", "") for part in PurePosixPath(name.rstrip("/")).parts)
        or not path.parts  # "." names the folder itself, not a file in it
        or ":" in path.parts[0]
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    ):
        raise _defect(
            ErrorCode.UNSAFE_PATH,
            f"archive entry {name!r} would land outside the job folder or is not a plain name",
            hint="Job archives may hold only relative paths inside the job folder, "
            "without control characters.",
        )
    return name


def _check_layout(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse archives that cannot be unpacked as written: an entry named twice (which copy
    is the job?), a name that is both a file and a folder, names too long to create."""
    files: set[str] = set()
    folders: set[str] = set()
    for info in infos:
        name = PurePosixPath(info.filename.rstrip("/"))
        encoded = str(name).encode("utf-8", "surrogateescape")
        if len(encoded) > _MAX_NAME_BYTES or any(
            len(part.encode("utf-8", "surrogateescape")) > _MAX_PART_BYTES for part in name.parts
        ):
            raise _defect(
                ErrorCode.INVALID_JOB_DEFINITION,
                f"archive entry name {info.filename[:80]!r}... is too long",
                hint=f"Names may be {_MAX_NAME_BYTES} bytes, each folder or file name "
                f"{_MAX_PART_BYTES}.",
            )
        folders.update(str(parent) for parent in name.parents if str(parent) != ".")
        if info.is_dir():
            folders.add(str(name))
        elif str(name) in files:
            raise _defect(ErrorCode.INVALID_JOB_DEFINITION, f"archive entry {name} appears twice")
        else:
            files.add(str(name))
    if clash := sorted(files & folders):
        raise _defect(
            ErrorCode.INVALID_JOB_DEFINITION,
            f"archive entry {clash[0]} is both a file and a folder",
        )


def strip_wrapper(names: list[str], marker: str = "meta.json") -> str:
    """The single top folder that holds everything and ``marker`` (``zip -r my_job.zip
    my_job/`` puts the job under ``my_job/``), or "" when ``marker`` is at the root."""
    if any(n == marker for n in names):
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1:
        top = next(iter(tops)) + "/"
        if top + marker in names:
            return top
    return ""


def checked_zip_names(data: bytes, max_bytes: int = DEFAULT_MAX_JOB_BYTES) -> list[str]:
    """The file entries of a zip archive that passes every hostile-archive check (size, zip
    bomb, entry count, names that escape or cannot be created, links, damaged entries); raise
    the error code of the first defect found. Job folders and edge packages share this."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"job archive is {len(data)} bytes, over the {max_bytes} byte limit",
            code=ErrorCode.JOB_TOO_LARGE,
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _defect(ErrorCode.INVALID_JOB_DEFINITION, f"job archive is not a zip: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_ENTRIES:
            raise _defect(ErrorCode.INVALID_JOB_DEFINITION, f"job archive has {len(infos)} entries")
        # Zip bombs: the declared sizes are checked before anything is inflated, and the actual
        # sizes again while reading (a lying header cannot get past the limit).
        if sum(i.file_size for i in infos) > max_bytes:
            raise PayloadTooLarge(
                f"job archive unpacks to more than {max_bytes} bytes", code=ErrorCode.JOB_TOO_LARGE
            )
        for info in infos:
            _safe_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _defect(ErrorCode.UNSAFE_PATH, f"archive entry {info.filename!r} is a link")
        _check_layout(infos)
        # Read every entry once (bounded by the declared sizes checked above), so a damaged,
        # encrypted or oddly compressed member is refused here, not half-way through extracting.
        try:
            damaged = zf.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            raise _defect(
                ErrorCode.INVALID_JOB_DEFINITION, f"job archive cannot be read: {exc}"
            ) from exc
        if damaged is not None:
            raise _defect(
                ErrorCode.INVALID_JOB_DEFINITION, f"job archive entry {damaged!r} is damaged"
            )
        return [i.filename for i in infos if not i.is_dir()]


def validate_job_zip(data: bytes, max_bytes: int = DEFAULT_MAX_JOB_BYTES) -> JobFolder:
    """Check a job archive completely; raise the error code of the first defect found."""
    return _validate(data, max_bytes)[0]


def _validate(data: bytes, max_bytes: int) -> tuple[JobFolder, str]:
    names = checked_zip_names(data, max_bytes)
    prefix = strip_wrapper(names)
    files = {n[len(prefix) :]: n for n in names if n.startswith(prefix)}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return _check_contents(zf, files, max_bytes), prefix


def read_json_entry(zf: zipfile.ZipFile, name: str, max_bytes: int) -> object:
    """An archive entry as strict JSON (at most 4 MiB); ValueError when it is not."""
    with zf.open(name) as fh:
        raw = fh.read(min(max_bytes, _MAX_JSON_BYTES) + 1)
    if len(raw) > _MAX_JSON_BYTES:
        raise ValueError(f"over {_MAX_JSON_BYTES} bytes")
    return loads_strict(raw)  # the callers' messages name the file


_M = TypeVar("_M", bound=BaseModel)


def _load_config(
    zf: zipfile.ZipFile, files: dict[str, str], app: str, rel: str, model: type[_M]
) -> _M:
    key = f"{app}/{rel}"
    try:
        return model.model_validate(read_json_entry(zf, files[key], 4 * 1024 * 1024))
    except (ValueError, ValidationError) as exc:
        raise _defect(ErrorCode.INVALID_JOB_DEFINITION, f"{key} is invalid: {exc}") from exc


def _check_contents(zf: zipfile.ZipFile, files: dict[str, str], max_bytes: int) -> JobFolder:
    if "meta.json" not in files:
        raise _defect(
            ErrorCode.JOB_META_MISSING,
            "job folder has no meta.json",
            hint="A job folder holds meta.json at its root; see docs/job-format.md.",
        )
    try:
        meta = JobMeta.model_validate(read_json_entry(zf, files["meta.json"], max_bytes))
    except (ValueError, ValidationError) as exc:
        raise _defect(ErrorCode.JOB_META_INVALID, f"meta.json is invalid: {exc}") from exc
    server_configs: dict[str, ServerAppConfig] = {}
    client_configs: dict[str, ClientAppConfig] = {}
    from cohort.workflows import WORKFLOWS  # here: the registry imports numpy-heavy modules

    for app in meta.deploy_map:
        if not any(name.startswith(app + "/") for name in files):
            raise _defect(
                ErrorCode.DEPLOY_MAP_INVALID,
                f"deploy_map names app {app!r}, but the job folder has no {app}/ folder",
            )
        if f"{app}/{SERVER_CONFIG}" in files:
            server_configs[app] = _load_config(zf, files, app, SERVER_CONFIG, ServerAppConfig)
        if f"{app}/{CLIENT_CONFIG}" in files:
            client_configs[app] = _load_config(zf, files, app, CLIENT_CONFIG, ClientAppConfig)
        if app in client_configs:
            script = f"{app}/{client_configs[app].script}"
            _safe_name(script)
            if script not in files:
                raise _defect(
                    ErrorCode.INVALID_JOB_DEFINITION,
                    f"{app}/{CLIENT_CONFIG} names script {client_configs[app].script!r}, "
                    "which is not in the app folder",
                )
    if meta.server_app() is None or meta.server_app() not in server_configs:
        raise _defect(
            ErrorCode.DEPLOY_MAP_INVALID,
            "no app deployed to the server has a config/config_fed_server.json",
            hint='Deploy an app to "server" (or "@ALL") with a server configuration.',
        )
    if not client_configs:
        raise _defect(
            ErrorCode.DEPLOY_MAP_INVALID, "no app has a config/config_fed_client.json for sites"
        )
    for app, config in server_configs.items():
        if config.workflow not in WORKFLOWS:
            raise _defect(
                ErrorCode.UNKNOWN_WORKFLOW,
                f"{app}: unknown workflow {config.workflow!r}",
                hint=f"Built-in workflows: {', '.join(sorted(WORKFLOWS))}.",
            )
        try:  # building the workflow checks its args: a typo fails here, not after scheduling
            WORKFLOWS[config.workflow](**config.args)
        except (ValueError, TypeError) as exc:
            raise _defect(
                ErrorCode.INVALID_JOB_DEFINITION,
                f"{app}/{SERVER_CONFIG}: invalid args for workflow {config.workflow!r}: {exc}",
            ) from exc
    return JobFolder(meta, server_configs, client_configs, sorted(files))


def extract_job_zip(data: bytes, dest: Path, max_bytes: int = DEFAULT_MAX_JOB_BYTES) -> JobFolder:
    """Validate ``data`` and unpack it under ``dest`` (which must not exist yet)."""
    folder, prefix = _validate(data, max_bytes)
    unpack_checked_zip(data, dest, prefix, max_bytes)
    return folder


def unpack_checked_zip(data: bytes, dest: Path, prefix: str, max_bytes: int) -> None:
    """Unpack the entries under ``prefix`` of an archive that passed :func:`checked_zip_names`
    into ``dest``, counting the bytes actually inflated against ``max_bytes``."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        written = 0
        for name in names:
            if not name.startswith(prefix):
                continue
            target = dest / name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, target.open("wb") as out:
                while chunk := src.read(1024 * 1024):
                    written += len(chunk)
                    if written > max_bytes:
                        raise PayloadTooLarge(
                            f"job archive unpacks to more than {max_bytes} bytes",
                            code=ErrorCode.JOB_TOO_LARGE,
                        )
                    out.write(chunk)
