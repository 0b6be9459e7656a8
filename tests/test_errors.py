"""The error code table and the envelope that carries a code across the network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cohort import errors
from cohort.errors import (
    CohortError,
    ConnectionFailed,
    ErrorCode,
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Timeout,
    error_from_envelope,
    spec_for,
)
from cohort.server.api.errors import envelope

#: Every exception family: the direct subclasses of CohortError that errors.py defines.
FAMILIES = [
    obj
    for obj in vars(errors).values()
    if isinstance(obj, type) and issubclass(obj, CohortError) and obj is not CohortError
]


def test_every_code_has_a_spec() -> None:
    assert set(errors._TABLE) == set(ErrorCode)


def test_the_families_include_the_documented_ones() -> None:
    assert {ConnectionFailed, InternalError, InvalidRequest, NotFound, Timeout} <= set(FAMILIES)
    assert all(cls.__bases__ == (CohortError,) for cls in FAMILIES)


def test_client_only_codes() -> None:
    assert spec_for(ErrorCode.NO_CONNECTION).http_status == 0
    assert spec_for(ErrorCode.TIMEOUT).http_status == 0
    assert spec_for(ErrorCode.TIMEOUT).exit_code == 3
    assert spec_for(ErrorCode.NO_CONNECTION).exit_code == 2


@pytest.mark.parametrize("code", list(ErrorCode))
def test_spec_is_consistent(code: ErrorCode) -> None:
    spec = spec_for(code)
    assert spec is errors._TABLE[code]
    assert spec_for(code.value) is spec
    assert issubclass(spec.family, CohortError)
    assert spec.family in FAMILIES
    assert spec.exit_code in {1, 2, 3, 4}
    assert spec.http_status == 0 or 400 <= spec.http_status < 600  # 0: raised by clients only


@pytest.mark.parametrize("family", FAMILIES)
def test_family_default_code_belongs_to_the_family(family: type[CohortError]) -> None:
    assert spec_for(family.default_code).family is family
    err = family("boom")
    assert err.code == family.default_code
    assert str(err) == f"{family.default_code}: boom"


def test_code_values_are_their_names() -> None:
    assert all(code.value == code.name for code in ErrorCode)


def test_unknown_code_reads_as_internal_error() -> None:
    assert spec_for("NO_SUCH_CODE") is spec_for(ErrorCode.INTERNAL_ERROR)


def test_exception_attributes() -> None:
    err = PayloadTooLarge("too big", code="JOB_TOO_LARGE", hint="shrink it", details={"max": 1})
    assert err.code is ErrorCode.JOB_TOO_LARGE
    assert err.http_status == 413
    assert err.exit_code == 4
    assert err.hint == "shrink it"
    assert err.details == {"max": 1}
    assert InvalidRequest("x").details == {}


def _server_envelope(err: CohortError) -> dict[str, Any]:
    """The envelope exactly as the server's error handler writes it."""
    response = envelope(err.code, err.message, err.hint, err.details)
    assert response.status_code == (err.http_status or 500)
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body


@pytest.mark.parametrize("code", list(ErrorCode))
def test_envelope_round_trip(code: ErrorCode) -> None:
    family = spec_for(code).family
    sent = family(
        f"message for {code}",
        code=code,
        hint="do this",
        details={"job_id": "j1", "limit": 3, "items": [1, 2]},
    )
    received = error_from_envelope(_server_envelope(sent))
    assert type(received) is family
    assert received.code is code
    assert received.message == sent.message
    assert received.hint == "do this"
    assert received.details == sent.details
    assert received.http_status == sent.http_status
    assert received.exit_code == sent.exit_code


def test_envelope_without_wrapper_is_accepted() -> None:
    err = error_from_envelope({"code": "JOB_NOT_FOUND", "message": "no job j1"})
    assert isinstance(err, NotFound)
    assert err.code is ErrorCode.JOB_NOT_FOUND
    assert err.message == "no job j1"
    assert err.hint == ""
    assert err.details == {}


@pytest.mark.parametrize("code", ["SOMETHING_NEW", "", "job_not_found", 42])
def test_unknown_code_maps_to_internal_error(code: object) -> None:
    err = error_from_envelope({"error": {"code": code, "message": "m"}})
    assert type(err) is InternalError
    assert err.code is ErrorCode.INTERNAL_ERROR
    assert err.message == "m"


def test_missing_fields_have_defaults() -> None:
    err = error_from_envelope({"error": {}})
    assert type(err) is InternalError
    assert err.message == "INTERNAL_ERROR"
    err = error_from_envelope({"error": {"code": "CONFLICT"}})
    assert err.message == "CONFLICT"


@pytest.mark.parametrize("details", [None, [], "text", 3])
def test_non_dict_details_are_dropped(details: object) -> None:
    err = error_from_envelope({"error": {"code": "NOT_FOUND", "message": "m", "details": details}})
    assert err.details == {}
