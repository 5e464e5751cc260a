"""Every error keystroke raises on purpose, in one hierarchy.

The HTTP layer maps this tree to status codes in one place (`transports/http/errors.py`); the CLI prints the
message and exits non-zero. Every message says what was wrong and, where there is one, what to do about it::

    KeystrokeError
    ├── ConfigError                 bad settings, a bad command-line value
    ├── ModelError
    │   ├── ModelNotFoundError      no GGUF at that path, default model package missing
    │   ├── ModelDownloadError      a model that could not be fetched (offline, unknown repo, pip failed)
    │   ├── ModelVerificationError  a catalog model's bytes are not the pinned size and SHA-256
    │   └── ModelLoadError          llama.cpp refused the file
    ├── RequestError                the caller's fault; HTTP 4xx
    │   ├── InvalidRequestError     malformed body or a field with a wrong value (names the field)
    │   ├── PayloadTooLargeError    a body or a field over its configured size limit
    │   ├── HeaderTooLargeError     an Authorization header over its limit (431)
    │   ├── UnsupportedMediaTypeError  a body not declared `application/json` (415)
    │   ├── UnauthorizedError       no API key, or one that is unknown, malformed, truncated or revoked (401)
    │   ├── ForbiddenError          a valid key of a disabled tenant, a web page's request to a loopback
    │   │                           gateway, a non-admin asking for every tenant's data (403)
    │   ├── NotFoundError           a tenant the gateway does not know (404)
    │   ├── ClientClosedError       the client hung up before its request was read (499, never seen by it)
    │   └── OverloadedError         the tenant's or the engine's queue is full; retry after a while (429)
    ├── EngineError                 the backend failed; HTTP 5xx
    │   ├── EngineUnavailableError  closed, or not started
    │   └── EngineCrashedError      died in the middle of a generation
    └── RemoteUnavailableError      the language server's gateway is down, slow or unreadable (local lane answers)

`invalid_fields` is the one formatter of a validation's problems (pydantic's `errors()`): the HTTP routes, the
playground's messages and the configuration loader all word them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

_LOCATIONS = ("query", "path", "header", "cookie", "body")  # FastAPI's prefixes, not part of a field's name


class KeystrokeError(Exception):
    """Base class of every error keystroke raises on purpose."""


class ConfigError(KeystrokeError):
    """A setting, a configuration file or a command-line value is invalid."""


class ModelError(KeystrokeError):
    """A model could not be found, fetched or loaded."""


class ModelNotFoundError(ModelError):
    """The model reference points at nothing."""


class ModelDownloadError(ModelError):
    """An `hf:` model reference could not be downloaded."""


class ModelVerificationError(ModelError):
    """A catalog model's bytes do not match the size or SHA-256 the catalog pins; they are not used."""


class ModelLoadError(ModelError):
    """llama.cpp could not load the file."""


class RequestError(KeystrokeError):
    """The request is wrong; `field` names the offending part in dotted form (`segments.prefix`)."""

    status_code = 400
    error_type = "invalid_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequestError(RequestError):
    """Malformed body, or a field with a wrong type or value."""

    status_code = 422


class PayloadTooLargeError(RequestError):
    """A body or a field is over its configured size limit."""

    status_code = 413
    error_type = "payload_too_large"


class HeaderTooLargeError(RequestError):
    """A request header is over its size limit."""

    status_code = 431
    error_type = "header_too_large"


class UnsupportedMediaTypeError(RequestError):
    """A request body is not declared as JSON."""

    status_code = 415
    error_type = "unsupported_media_type"


class UnauthorizedError(RequestError):
    """The request carries no valid API key."""

    status_code = 401
    error_type = "unauthorized"


class ForbiddenError(RequestError):
    """The key is valid but its tenant may not use the gateway."""

    status_code = 403
    error_type = "forbidden"


class NotFoundError(RequestError):
    """The request names something the gateway does not have (a tenant)."""

    status_code = 404
    error_type = "not_found"


class ClientClosedError(RequestError):
    """The client went away before its request was read; the answer reaches nobody."""

    status_code = 499
    error_type = "client_closed"


class OverloadedError(RequestError):
    """Admission control refused the request: too much of the tenant's or everyone's work is waiting."""

    status_code = 429
    error_type = "overloaded"

    def __init__(self, message: str, retry_after_ms: float) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class EngineError(KeystrokeError):
    """The inference backend failed."""


class EngineUnavailableError(EngineError):
    """The backend is closed or was never started."""


class EngineCrashedError(EngineError):
    """The backend died in the middle of a generation."""


RemoteCause = Literal["unreachable", "refused", "overloaded", "failed"]


class RemoteUnavailableError(KeystrokeError):
    """The gateway the language server asks could not answer: down, refused, timed out, or unreadable.

    `cause` says which, for the editor's status: `unreachable` (no connection, or no answer in time),
    `refused` (the API key was not accepted: 401/403), `overloaded` (429, or the engine's queue is full) or
    `failed` (anything else)."""

    def __init__(self, message: str, cause: RemoteCause = "failed") -> None:
        super().__init__(message)
        self.cause: RemoteCause = cause


def invalid_fields(problems: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(field in dotted form, what is wrong with it) for each of a validation's problems (pydantic's
    `ValidationError.errors()`, FastAPI's `RequestValidationError.errors()`)."""
    found = []
    for problem in problems:
        parts = [str(part) for part in problem.get("loc", ())]
        if parts and parts[0] in _LOCATIONS:
            parts = parts[1:]
        found.append((".".join(parts), str(problem.get("msg", ""))))
    return found


def invalid_request(problems: Iterable[Mapping[str, Any]], whole: str = "body") -> InvalidRequestError:
    """One error naming every bad field (`whole`: the name of the value itself, when it is what is wrong)."""
    fields = [(name or whole, message) for name, message in invalid_fields(problems)]
    text = "; ".join(f"{name}: {message}" for name, message in fields) or f"invalid {whole}"
    return InvalidRequestError(text, fields[0][0] if fields else None)
