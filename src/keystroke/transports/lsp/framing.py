"""The language server's read loop: frames from the editor, read defensively, and every request answered.

pygls's own loop trusts its peer: it allocates whatever `Content-Length` says (`1099511627776` is a
MemoryError that ends the process), hands the body to `json.loads` with no depth or number limits, and drops a
request whose params do not match the protocol's types (a negative position) without answering it, so the
editor waits forever. This loop replaces it:

- a header line is read up to `MAX_HEADER_LINE` bytes (a longer one is skipped); `Content-Length` is required;
- a body over `max_bytes` is read and thrown away in 1 MiB pieces (the stream stays in step), and if it is a
  request whose id shows in its first bytes, that id is answered `-32600` with the size and the limit;
- the body goes through the one bounded JSON reader (`json_reader.py`); unreadable JSON is answered
  `-32700` (parse error) with a null id, a body that is not an object `-32600`;
- unpaired UTF-16 surrogates in strings (`"\\ud800"`, which no encoder accepts and which made a later handler
  fail) become U+FFFD, one UTF-16 unit for one, so the editor's positions still fit the text;
- a request whose params do not fit the method's types is answered `-32602` with the same id; after
  `shutdown`, any request but `exit` is answered `-32600`;
- everything else goes to pygls as before.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from lsprotocol.types import ErrorCodes, ResponseError
from pygls.exceptions import JsonRpcException

from keystroke.errors import RequestError
from keystroke.transports import json_reader

log = logging.getLogger(__name__)

MAX_HEADER_LINE = 4096
DISCARD_CHUNK = 1 << 20
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,20})[ \t]*\r?\n", re.IGNORECASE)
# a request's id near the start of its body, before its params (where editors put it)
_HEAD_ID = re.compile(rb'^(?:(?!"params").){0,300}?"id"\s*:\s*(-?\d{1,15}|"[^"\\]{0,64}")', re.DOTALL)
EXIT = "exit"
_METHOD = re.compile(r"[A-Za-z$][\w$/.-]{0,79}")


class Source(Protocol):
    async def readline(self, limit: int) -> bytes: ...

    async def read(self, size: int) -> bytes: ...


class StreamSource:
    """A blocking binary stream (stdin) read in a worker thread, so the event loop keeps serving."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    async def readline(self, limit: int) -> bytes:
        return await asyncio.to_thread(self.stream.readline, limit)

    async def read(self, size: int) -> bytes:
        return await asyncio.to_thread(self.stream.read, size)


@dataclass(frozen=True)
class Frame:
    """One message: its body, or (over the limit) its size and the first bytes of what was thrown away."""

    body: bytes | None
    size: int
    head: bytes = b""


class RpcProtocol(Protocol):
    """What the loop needs of pygls's `JsonRPCProtocol`."""

    _shutdown: bool

    def structure_message(self, data: dict[str, Any]) -> Any: ...

    def handle_message(self, message: Any) -> None: ...

    def _send_response(self, msg_id: Any, result: Any = None, error: ResponseError | None = None) -> None: ...

    def _send_data(self, data: Any) -> None: ...


async def frames(source: Source, max_bytes: int) -> AsyncIterator[Frame]:
    """The stream's messages, until it ends."""
    while True:
        length = await _header(source)
        if length is None:
            return
        if length > max_bytes:
            head = await _discard(source, length)
            if head is None:
                return
            yield Frame(None, length, head)
            continue
        body = await source.read(length) if length else b""
        if len(body) < length:
            return  # the stream ended inside a body
        yield Frame(body, length)


async def serve(source: Source, protocol: RpcProtocol, max_bytes: int) -> None:
    """Read frames and hand them to `protocol` until the stream ends."""
    async for frame in frames(source, max_bytes):
        dispatch(frame, protocol, max_bytes)


def dispatch(frame: Frame, protocol: RpcProtocol, max_bytes: int) -> None:
    """One frame: answered here when it cannot be handled, else handed to pygls."""
    if frame.body is None:
        _oversized(frame, protocol, max_bytes)
        return
    try:
        value = json_reader.loads(frame.body)
    except RequestError as exc:
        log.warning("unreadable message: %s", exc.message)
        _answer(protocol, None, ErrorCodes.ParseError, exc.message)
        return
    if not isinstance(value, dict):
        kind = type(value).__name__
        _answer(protocol, None, ErrorCodes.InvalidRequest, f"a message must be a JSON object, not {kind}")
        return
    if json_reader.may_hold_surrogates(frame.body):
        value = json_reader.replace_surrogates(value)
    _handle(value, protocol)


def _oversized(frame: Frame, protocol: RpcProtocol, max_bytes: int) -> None:
    found = _HEAD_ID.match(frame.head)
    why = f"message of {frame.size} bytes is over the limit of {max_bytes} bytes"
    log.warning("dropped a %s", why)
    if found is not None:
        _answer(protocol, _id(found.group(1)), ErrorCodes.InvalidRequest, why)


def _handle(value: dict[str, Any], protocol: RpcProtocol) -> None:
    """A JSON-RPC message as a dict: answered here if it is a request pygls would drop, else handed over."""
    raw_id, method = value.get("id"), value.get("method")
    request_id = raw_id if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) else None
    is_request = request_id is not None and isinstance(method, str)
    shown = method if isinstance(method, str) and _METHOD.fullmatch(method) else "?"  # logs quote no payload
    if is_request and protocol._shutdown and method != EXIT:
        _answer(protocol, request_id, ErrorCodes.InvalidRequest, "the server is shutting down")
        return
    try:
        message = protocol.structure_message(value)
    except JsonRpcException as exc:
        log.warning("%s: params do not fit the protocol (%s)", shown, type(exc).__name__)
        if is_request:
            code = ErrorCodes.InvalidParams if exc.code == ErrorCodes.InvalidParams else ErrorCodes.InvalidRequest
            _answer(protocol, request_id, code, f"{shown}: the params do not fit the protocol's types")
        return
    protocol.handle_message(message)


async def _header(source: Source) -> int | None:
    """Read a header block; its Content-Length, or None at the end of the stream."""
    length: int | None = None
    while True:
        line = await source.readline(MAX_HEADER_LINE)
        if not line:
            return None
        if not line.endswith(b"\n"):
            log.warning("skipped a header line over %d bytes", MAX_HEADER_LINE)
            while line and not line.endswith(b"\n"):
                line = await source.readline(MAX_HEADER_LINE)
            continue
        if line in (b"\r\n", b"\n"):
            if length is not None:
                return length
            log.warning("a header without Content-Length: skipped")
            continue
        found = _CONTENT_LENGTH.fullmatch(line)
        if found is not None:
            length = int(found.group(1))


async def _discard(source: Source, length: int) -> bytes | None:
    """Read and drop `length` bytes; their first bytes (None if the stream ended first)."""
    head = b""
    left = length
    while left:
        piece = await source.read(min(left, DISCARD_CHUNK))
        if not piece:
            return None
        head = head or piece[:1024]
        left -= len(piece)
    return head


def _id(literal: bytes) -> int | str:
    text = literal.decode("ascii", "replace")
    return text[1:-1] if text.startswith('"') else int(text)


def _answer(protocol: RpcProtocol, request_id: int | str | None, code: ErrorCodes, message: str) -> None:
    if request_id is None:  # pygls would leave the id out; JSON-RPC wants it there, null
        protocol._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": int(code), "message": message}})
    else:
        protocol._send_response(request_id, error=ResponseError(code=code, message=message))
