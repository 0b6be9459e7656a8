"""Cohort errors as the session spec's exceptions, by the ``session`` column of the one error
table (:data:`cohort.errors.CodeSpec.session`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from cohort.admin import spec_types
from cohort.errors import CohortError, ErrorCode, spec_for

__all__ = ["invalid", "is_tls_refusal", "spec_error", "translate_errors"]

P = ParamSpec("P")
R = TypeVar("R")
#: TLS failures that mean the server refused our certificate, not that it is unreachable.
_TLS_REFUSALS = ("certificate", "tlsv1 alert", "tlsv13 alert", "sslv3 alert", "handshake failure")


def is_tls_refusal(err: CohortError) -> bool:
    """True when a connection failure is the server refusing our certificate."""
    message = err.message.lower().replace("_", " ")
    return err.code == ErrorCode.NO_CONNECTION and any(t in message for t in _TLS_REFUSALS)


def spec_error(err: CohortError) -> Exception:
    """The spec exception for ``err``, with ``code``, ``hint`` and ``details`` set on it."""
    code = err.code
    if is_tls_refusal(err):
        code = ErrorCode.UNAUTHORIZED  # a certificate the server's CA did not sign
    name = spec_for(code).session
    details = err.details
    exc: Exception
    if name == "CommandError":
        exc = spec_types.CommandError(str(code), err.message, err.hint, err.exit_code)
    elif name == "AuthenticationError":
        exc = spec_types.AuthenticationError(err.message, auth_code=str(code))
    elif name == "SubmitTokenConflict":
        exc = spec_types.SubmitTokenConflict(err.message, details.get("job_id"))
    elif name == "SubmitTokenJobDeleted":
        exc = spec_types.SubmitTokenJobDeleted(
            err.message, details.get("job_id"), details.get("state"), details.get("deleted_time")
        )
    else:
        cls: type[Exception] = getattr(spec_types, name)
        exc = cls(f"{code}: {err.message}")
    exc.code = str(code)  # type: ignore[attr-defined]
    exc.hint = err.hint  # type: ignore[attr-defined]
    exc.details = details  # type: ignore[attr-defined]
    return exc


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Raise the spec's exception in place of any :class:`CohortError` ``func`` raises."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CohortError as err:
            raise spec_error(err) from err

    return wrapper


def invalid(message: str, **details: Any) -> CohortError:
    """INVALID_ARGS for a refused session argument (raised as InvalidArgumentError)."""
    return CohortError(message, code=ErrorCode.INVALID_ARGS, details=details)
