"""Reading a JSON request body with errors that say exactly what is wrong, and where.

FastAPI's own body handling answers invalid UTF-8 with a bare "error parsing the body" and accepts JSON
strings with unpaired surrogates (which fail later, deep in the tokenizer). Here: a size cap before reading
it all, strict UTF-8 with the byte offset of the first bad byte, JSON errors with line and column,
surrogates rejected, and schema errors naming every bad field in dotted form.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from keystroke.errors import InvalidRequestError, PayloadTooLargeError, RequestError

M = TypeVar("M", bound=BaseModel)

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


async def read_json(request: Request, limit: int) -> object:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is {declared} bytes; the limit is {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"request body is over the limit of {limit} bytes")
    if not body:
        raise RequestError("request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"request body is not valid UTF-8 (bad byte at offset {exc.start})") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if _SURROGATE_ESCAPE.search(body):
        _reject_surrogates(value, "")
    return value


def parse_model(value: object, model: type[M]) -> M:
    if not isinstance(value, dict):
        raise RequestError(f"request body must be a JSON object, not {type(value).__name__}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        message = "; ".join(f"{field}: {msg}" for field, msg in problems)
        raise InvalidRequestError(message, problems[0][0]) from exc


def _reject_surrogates(value: object, path: str) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RequestError(f"{path or 'body'} contains an unpaired UTF-16 surrogate", path or None) from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_surrogates(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_surrogates(item, f"{path}.{index}" if path else str(index))
