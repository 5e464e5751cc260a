"""Connection-level limits: no client holds a connection open by being slow, silent or verbose.

uvicorn closes a connection that stays idle between two requests (`timeout_keep_alive`), but not one that
never finishes a request: a client that sends its header a byte every few seconds (slowloris), trickles its
body, or connects and says nothing keeps its descriptor forever. This protocol (uvicorn's httptools protocol
with deadlines) gives each phase of a request one deadline that data does not push back:

- from the connection's start, or a new request's first byte, to the end of its header: `header_timeout_s`;
- from the end of the header to the end of the body: `body_timeout_s`;
- a header (request line and fields) over `max_header_bytes` is answered 431 at once.

Past a deadline the client gets `408 Request Timeout` (a JSON error, `Connection: close`) unless its request
was answered already, and the connection is closed, after `LINGER_S` of reading and dropping what the client
still sends, so that a client busy writing reads the answer instead of a reset. Time spent by the application
(the engine's work, a stream of events) is not limited here: the admission control's deadlines do that. A
WebSocket upgrade leaves these limits to the WebSocket protocol (pings) and the playground (its hello deadline,
its session cap).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from keystroke.config import ServerSettings
from keystroke.transports.http.wire import ErrorBody, ErrorDetail

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
LINGER_S = 2.0


def guarded_protocol(settings: ServerSettings) -> type[HttpToolsProtocol]:
    """The HTTP protocol class to give uvicorn (`http=`), with the settings' deadlines and header cap."""

    class Guarded(GuardedProtocol):
        header_timeout_s = settings.header_timeout_s
        body_timeout_s = settings.body_timeout_s
        max_header_bytes = settings.max_header_bytes

    return Guarded


class GuardedProtocol(HttpToolsProtocol):
    header_timeout_s = 10.0
    body_timeout_s = 30.0
    max_header_bytes = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._reading_header = True
        self._refused = False  # answered by this protocol and closing: the rest of the bytes are ignored

    # -- the phases ---------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s, "the request header")

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._reading_header and not self._refused:  # header bytes the parser holds, not yet complete
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._close_with(431, f"the request header is over {self.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes, self._reading_header = 0, True
        self._arm(self.header_timeout_s, "the request header")

    def on_headers_complete(self) -> None:
        self._reading_header = False
        if self._refused:
            return
        self._arm(self.body_timeout_s, "the request body")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if not self._refused:
            super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- deadlines ----------------------------------------------------------------------------------------

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, seconds, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, seconds: float, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # in the header phase: the previous request's, if any
        streaming = cycle is not None and cycle.response_started and not cycle.response_complete
        answered = not self._reading_header and cycle is not None and cycle.response_started
        if streaming or answered:  # a second answer would corrupt the first, or follow it unasked
            self.transport.close()
        else:
            self._close_with(408, f"{what} did not arrive within {seconds:g} s")

    def _close_with(self, status: int, message: str) -> None:
        """Answer `status` with a JSON error and close (the parser stops with the connection)."""
        self._disarm()
        self._refused = True
        kind = "request_timeout" if status == 408 else "header_too_large"
        error = ErrorBody(error=ErrorDetail(type=kind, message=message))
        body = json.dumps(error.model_dump(), separators=(",", ":")).encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, _REASONS[status], len(body))
        )
        self.transport.write(head + body)
        if self.transport.can_write_eof():
            # a lingering close: the answer and an end of stream go out, what the client still sends is read and
            # dropped for a moment, so the close does not reset the connection before it could read the answer
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()
