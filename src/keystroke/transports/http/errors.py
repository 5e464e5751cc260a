"""The one place where errors become HTTP responses: `{"error": {"type", "message", "field"}}`.

RequestError subclasses carry their status (400, 401, 403, 413, 422, 429 with Retry-After, 431); engine
failures are 503; anything unexpected is a 500 whose body says nothing about the request and whose log line
holds the exception type only (no code).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from keystroke.errors import (
    EngineError,
    KeystrokeError,
    OverloadedError,
    RequestError,
    UnauthorizedError,
    invalid_request,
)
from keystroke.transports.http.wire import ErrorBody, ErrorDetail

log = logging.getLogger("keystroke.http")

_DESCRIPTIONS = {
    400: "The body is not JSON keystroke can read: not UTF-8, a syntax error, nested too deep, a number too long",
    401: "No API key, or an invalid one",
    403: "The key's tenant is disabled, the route needs an admin key, or a web page's request (Host, Origin)",
    404: "No such tenant",
    408: "The request's header or body did not arrive in time",
    413: "Body or a field over its size limit",
    415: "The body is not declared JSON (Content-Type: application/json)",
    422: "A field has a wrong type or value",
    429: "Too much work in flight (the tenant's or the engine's); the Retry-After header says when to retry",
    431: "A header over its size limit: Authorization, or the whole request header",
    503: "The engine failed",
}
EVERY_ROUTE = (401, 403, 408, 431)  # authentication, the browser guard, connection deadlines
JSON_BODY = (400, 413, 415, 422)  # what reading and checking a JSON body can answer
ENGINE = (429, 503)  # admission control and the engine


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer, each with the JSON error body."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in sorted({*EVERY_ROUTE, *statuses})
    }


def error_response(status: int, error_type: str, message: str, field: str | None = None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(type=error_type, message=message, field=field))
    return JSONResponse(body.model_dump(), status_code=status)


def error_for(exc: BaseException) -> tuple[int, ErrorDetail]:
    """Status and body for an exception; used by the handlers and by the SSE error event."""
    if isinstance(exc, OverloadedError):
        return 429, ErrorDetail(type=exc.error_type, message=exc.message, retry_after_ms=exc.retry_after_ms)
    if isinstance(exc, RequestError):
        return exc.status_code, ErrorDetail(type=exc.error_type, message=exc.message, field=exc.field)
    if isinstance(exc, EngineError):
        return 503, ErrorDetail(type="engine_error", message=str(exc))
    if isinstance(exc, KeystrokeError):
        return 500, ErrorDetail(type="server_error", message=str(exc))
    log.error("unexpected %s while serving a request", type(exc).__name__)
    return 500, ErrorDetail(type="server_error", message="internal error; see the server log")


def error_headers(exc: BaseException) -> dict[str, str] | None:
    """Headers an error response needs: the auth scheme with 401, the wait in whole seconds with 429."""
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": 'Bearer realm="keystroke"'}
    if isinstance(exc, OverloadedError):
        return {"Retry-After": str(max(1, math.ceil(exc.retry_after_ms / 1000)))}
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def on_keystroke_error(_: Request, exc: Exception) -> JSONResponse:
        status, detail = error_for(exc)
        return JSONResponse(ErrorBody(error=detail).model_dump(), status_code=status, headers=error_headers(exc))

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = error_response(exc.status_code, "http_error", str(exc.detail))
        response.headers.update(exc.headers or {})  # 405's Allow
        return response

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        error = invalid_request(exc.errors(), whole="request")
        return error_response(422, "invalid_request", error.message, error.field)

    app.add_exception_handler(KeystrokeError, on_keystroke_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_keystroke_error)
