"""The session API's surface is the spec's: names, signatures, constructors, error mapping."""

from __future__ import annotations

import inspect

import pytest

import cohort.admin
from cohort.admin import (
    AuthenticationError,
    CommandError,
    JobNotFound,
    MonitorReturnCode,
    NoConnection,
    Session,
    SessionSpec,
    SubmitTokenConflict,
    SubmitTokenJobDeleted,
    TargetType,
    new_secure_session,
    spec_types,
)
from cohort.admin.spec_errors import spec_error
from cohort.errors import CohortError, ErrorCode, NotFound, spec_for

#: Every public name of the spec module (seed 000) plus the two entry points of seed 001.
SPEC_NAMES = {
    "AuthenticationError", "AuthorizationError", "ClientInfo", "ClientsStillRunning",
    "CommandError", "InternalError", "InvalidArgumentError", "InvalidJobDefinition",
    "InvalidTarget", "JobInfo", "JobNotDone", "JobNotFound", "JobNotRunning", "JobTimeout",
    "MonitorReturnCode", "NoClientsAvailable", "NoConnection", "NoReply", "ServerInfo",
    "SessionClosed", "SessionSpec", "SubmitTokenConflict", "SubmitTokenJobDeleted",
    "SystemInfo", "TargetType", "job_monitor_cb_signature", "Session", "new_secure_session",
}  # fmt: skip

#: Seed 000's methods with their parameters and defaults, as the spec lists them.
SPEC_METHODS: dict[str, list[tuple[str, object]]] = {
    "abort_job": [("job_id", inspect.Parameter.empty)],
    "add_study_site": [("study", inspect.Parameter.empty), ("sites", None), ("site_orgs", None)],
    "add_study_user": [("study", inspect.Parameter.empty), ("user", inspect.Parameter.empty)],
    "cat_target": [("target", inspect.Parameter.empty), ("options", None), ("file", None)],
    "check_status": [("target_type", inspect.Parameter.empty), ("targets", None)],
    "clone_job": [("job_id", inspect.Parameter.empty)],
    "close": [],
    "configure_job_log": [
        ("job_id", inspect.Parameter.empty), ("config", inspect.Parameter.empty),
        ("target", "all"),
    ],
    "configure_site_log": [("config", inspect.Parameter.empty), ("target", "all")],
    "delete_job": [("job_id", inspect.Parameter.empty)],
    "disable_client": [("client_name", inspect.Parameter.empty)],
    "download_job_components": [("job_id", inspect.Parameter.empty)],
    "download_job_result": [("job_id", inspect.Parameter.empty), ("destination", None)],
    "enable_client": [("client_name", inspect.Parameter.empty)],
    "get_available_apps_to_upload": [],
    "get_client_job_status": [("client_names", None)],
    "get_connected_client_list": [],
    "get_job_logs": [
        ("job_id", inspect.Parameter.empty), ("target", "server"), ("tail_lines", None),
        ("grep_pattern", None), ("log_file_name", "log.txt"),
    ],
    "get_job_meta": [("job_id", inspect.Parameter.empty)],
    "get_system_info": [],
    "get_working_directory": [("target", inspect.Parameter.empty)],
    "grep_target": [
        ("target", inspect.Parameter.empty), ("options", None), ("pattern", None), ("file", None),
    ],
    "head_target": [("target", inspect.Parameter.empty), ("options", None), ("file", None)],
    "head_target_log": [("target", inspect.Parameter.empty), ("options", None)],
    "list_job_components": [("job_id", inspect.Parameter.empty)],
    "list_jobs": [
        ("detailed", False), ("limit", None), ("id_prefix", None), ("name_prefix", None),
        ("reverse", False), ("submit_token", None), ("kwargs", inspect.Parameter.empty),
    ],
    "list_studies": [],
    "ls_target": [("target", inspect.Parameter.empty), ("options", None), ("path", None)],
    "monitor_job": [
        ("job_id", inspect.Parameter.empty), ("timeout", 0), ("poll_interval", 2.0),
        ("cb", None), ("cb_args", inspect.Parameter.empty), ("cb_kwargs", inspect.Parameter.empty),
    ],
    "monitor_job_and_return_job_meta": [
        ("job_id", inspect.Parameter.empty), ("timeout", 0.0), ("poll_interval", 2.0),
        ("cb", None), ("cb_args", inspect.Parameter.empty), ("cb_kwargs", inspect.Parameter.empty),
    ],
    "register_study": [("study", inspect.Parameter.empty), ("sites", None), ("site_orgs", None)],
    "remove_client": [("client_name", inspect.Parameter.empty)],
    "remove_study": [("study", inspect.Parameter.empty)],
    "remove_study_site": [
        ("study", inspect.Parameter.empty), ("sites", None), ("site_orgs", None),
    ],
    "remove_study_user": [("study", inspect.Parameter.empty), ("user", inspect.Parameter.empty)],
    "report_resources": [("target_type", inspect.Parameter.empty), ("targets", None)],
    "report_version": [("target_type", inspect.Parameter.empty), ("targets", None)],
    "reset_errors": [("job_id", inspect.Parameter.empty)],
    "restart": [
        ("target_type", inspect.Parameter.empty), ("client_names", None), ("wait", True),
        ("timeout", 30.0),
    ],
    "set_timeout": [("value", inspect.Parameter.empty)],
    "show_errors": [
        ("job_id", inspect.Parameter.empty), ("target_type", inspect.Parameter.empty),
        ("targets", None),
    ],
    "show_stats": [
        ("job_id", inspect.Parameter.empty), ("target_type", inspect.Parameter.empty),
        ("targets", None),
    ],
    "show_study": [("study", inspect.Parameter.empty)],
    "shutdown": [
        ("target_type", inspect.Parameter.empty), ("client_names", None), ("wait", True),
        ("timeout", 30.0),
    ],
    "shutdown_system": [],
    "submit_job": [("job_definition_path", inspect.Parameter.empty), ("submit_token", None)],
    "tail_target": [("target", inspect.Parameter.empty), ("options", None), ("file", None)],
    "tail_target_log": [("target", inspect.Parameter.empty), ("options", None)],
    "unset_timeout": [],
    "wait_for_job": [
        ("job_id", inspect.Parameter.empty), ("timeout", 0.0), ("poll_interval", 2.0),
    ],
}  # fmt: skip


def test_all_is_exactly_the_spec_names() -> None:
    assert set(cohort.admin.__all__) == SPEC_NAMES
    assert len(cohort.admin.__all__) == len(SPEC_NAMES)
    for name in SPEC_NAMES:
        assert getattr(cohort.admin, name) is not None


def test_session_implements_every_spec_method() -> None:
    assert not inspect.isabstract(Session)
    abstract = set(SessionSpec.__abstractmethods__)
    assert abstract | {"monitor_job"} == set(SPEC_METHODS)


@pytest.mark.parametrize("name", sorted(SPEC_METHODS))
def test_method_signature_matches_the_spec(name: str) -> None:
    params = list(inspect.signature(getattr(Session, name)).parameters.values())[1:]  # self
    assert [(p.name, p.default) for p in params] == SPEC_METHODS[name]
    assert getattr(Session, name).__doc__


def test_new_secure_session_signature() -> None:
    params = inspect.signature(new_secure_session).parameters
    assert list(params)[:4] == ["username", "startup_kit_location", "debug", "timeout"]
    assert params["debug"].default is False


def test_constants_and_types() -> None:
    assert (TargetType.ALL, TargetType.CLIENT, TargetType.SERVER) == ("all", "client", "server")
    assert [int(m) for m in MonitorReturnCode] == [0, 1, 2]
    assert MonitorReturnCode.ENDED_BY_CB == 2
    assert issubclass(NoConnection, ConnectionError)
    info = spec_types.SystemInfo(
        spec_types.ServerInfo("started", 1.0),
        [spec_types.ClientInfo("site-1", 2.0)],
        [spec_types.JobInfo("j", "app")],
    )
    assert info.client_info[0].name == "site-1" and info.job_info[0].app_name == "app"


def test_exception_constructors_are_the_specs() -> None:
    err = CommandError("X", "msg", "hint", 4)
    assert (err.error_code, err.message, err.hint, err.exit_code) == ("X", "msg", "hint", 4)
    conflict = SubmitTokenConflict("m", existing_job_id="j1")
    assert conflict.existing_job_id == "j1"
    deleted = SubmitTokenJobDeleted("m", "j1", "job_deleted", "2026-01-01T00:00:00+00:00")
    assert (deleted.job_id, deleted.state) == ("j1", "job_deleted")
    assert AuthenticationError("m", auth_code="UNAUTHORIZED").auth_code == "UNAUTHORIZED"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_maps_to_a_spec_exception(code: ErrorCode) -> None:
    name = spec_for(code).session
    assert name in spec_types.__all__
    exc = spec_error(CohortError("boom", code=code, hint="do this", details={"job_id": "j"}))
    assert type(exc).__name__ == name
    assert exc.code == str(code)  # type: ignore[attr-defined]
    assert exc.hint == "do this"  # type: ignore[attr-defined]


def test_mapping_examples() -> None:
    assert isinstance(spec_error(NotFound("x", code=ErrorCode.JOB_NOT_FOUND)), JobNotFound)
    token = spec_error(
        CohortError("x", code=ErrorCode.SUBMIT_TOKEN_CONFLICT, details={"job_id": "j9"})
    )
    assert isinstance(token, SubmitTokenConflict) and token.existing_job_id == "j9"
    unknown = spec_error(CohortError("x", code=ErrorCode.TASK_NOT_ACTIVE))
    assert isinstance(unknown, CommandError) and unknown.error_code == "TASK_NOT_ACTIVE"
    tls = spec_error(
        CohortError("cannot reach: [SSL: TLSV1_ALERT_UNKNOWN_CA]", code=ErrorCode.NO_CONNECTION)
    )
    assert isinstance(tls, AuthenticationError)
