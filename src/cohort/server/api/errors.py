"""The error envelope: every failure answers ``{"error": {code, message, hint, details,
timestamp}}`` with the HTTP status from :mod:`cohort.errors`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cohort.errors import CohortError, ErrorCode, spec_for

__all__ = ["envelope", "install_error_handlers"]

log = logging.getLogger("cohort.api")


def envelope(code: ErrorCode, message: str, hint: str = "", details: Any = None) -> JSONResponse:
    """Build the JSON error response for ``code``."""
    body = {
        "error": {
            "code": str(code),
            "message": message,
            "hint": hint,
            "details": details if details is not None else {},
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
    }
    return JSONResponse(body, status_code=spec_for(code).http_status or 500)


def install_error_handlers(app: FastAPI) -> None:
    """Map Cohort errors, validation errors and crashes onto the envelope."""

    @app.exception_handler(CohortError)
    async def _cohort(_: Request, exc: CohortError) -> JSONResponse:
        return envelope(exc.code, exc.message, exc.hint, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return envelope(ErrorCode.INVALID_REQUEST, "request is invalid", details={"errors": errors})

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.INVALID_REQUEST}.get(
            exc.status_code, ErrorCode.INVALID_REQUEST
        )
        response = envelope(code, str(exc.detail))
        response.status_code = exc.status_code
        return response

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return envelope(ErrorCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}")
