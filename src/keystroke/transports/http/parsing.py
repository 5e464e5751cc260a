"""Reading a JSON request body with errors that say exactly what is wrong, and where.

FastAPI's own body handling answers invalid UTF-8 with a bare "error parsing the body" and accepts JSON
strings with unpaired surrogates (which fail later, deep in the tokenizer). Here: the media type must be JSON
(a browser may send `text/plain` or a form to any site without asking it first, so those are refused before
the body is read), a size cap before reading it all, then the one bounded JSON reader (`json_reader.py`:
UTF-8 with the offset of the first bad byte, line and column of a syntax error, depth and number limits),
surrogates rejected, and schema errors naming every bad field in dotted form.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from keystroke.errors import (
    ClientClosedError,
    PayloadTooLargeError,
    RequestError,
    UnsupportedMediaTypeError,
    invalid_request,
)
from keystroke.transports import json_reader

M = TypeVar("M", bound=BaseModel)
JSON_TYPES = ("application/json",)


async def read_json(request: Request, limit: int) -> object:
    check_json_media_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is {declared} bytes; the limit is {limit} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLargeError(f"request body is over the limit of {limit} bytes")
    except ClientDisconnect as exc:
        raise ClientClosedError("the client closed the connection before sending the whole body") from exc
    if not body:
        raise RequestError("request body is empty; send a JSON object")
    data = bytes(body)
    value = json_reader.loads(data)
    if json_reader.may_hold_surrogates(data):
        where = json_reader.find_surrogate(value)
        if where is not None:
            raise RequestError(f"{where or 'body'} contains an unpaired UTF-16 surrogate", where or None)
    return value


def check_json_media_type(content_type: str | None) -> None:
    """Refuse a body that is not declared JSON (`application/json`, or any `+json` type)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = f"'{media[:64]}'" if media else "none"
    raise UnsupportedMediaTypeError(
        f"the body must be JSON: send 'Content-Type: application/json' (got {shown})", "Content-Type"
    )


def parse_model(value: object, model: type[M]) -> M:
    if not isinstance(value, dict):
        raise RequestError(f"request body must be a JSON object, not {type(value).__name__}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise invalid_request(exc.errors()) from exc
