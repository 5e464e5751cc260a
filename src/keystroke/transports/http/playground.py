"""The browser playground: the page at `/`, and its editor session over a WebSocket at `/v1/playground`.

The page (CodeMirror 6, bundled in the package) sends the document and cursor; everything between a
keystroke and a shown suggestion happens here, in the same `EditorService` the language server runs:
debounce by trigger and typing rhythm, cancellation, stale suppression, the result cache, the local lane. The
model is asked in-process (`EmbeddedLane`) for the connection's tenant, and telemetry goes straight to the
tenant's store. One service, one document per connection.

Messages are JSON objects with a `type`. The browser sends `hello` first (with `key` when the gateway has
keys; a browser cannot set headers on a WebSocket), then `change` (the whole text, a new version), `suggest`
(the cursor, as a UTF-16 offset as browsers count), `accept`, `dismiss`. The server answers `ready`,
`suggestion` (text, lane, first-action latency, cached-token ratio) and `error` (a bad message is answered,
never fatal; a bad key, or no hello within `server.header_timeout_s`, closes the socket with code 1008). At most
`server.max_websockets` sessions are open at once; one more is told so and closed with code 1013. Only the
gateway's own pages (and `server.allowed_origins`) may open the socket (`trust.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from keystroke.domain.privacy.tenants import Tenant
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import RequestError, invalid_request
from keystroke.services.completion import CompletionService
from keystroke.services.editor import EditorService, Suggestion
from keystroke.services.local_lane import LocalLane
from keystroke.services.remote_lane import EmbeddedLane
from keystroke.transports.http.auth import Authenticator

log = logging.getLogger(__name__)

URI = "playground:///main"
FLUSH_EVERY_S = 2.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Hello(_Message):
    type: Literal["hello"]
    key: str | None = Field(None, max_length=512)
    language: str = Field("python", max_length=32, pattern=r"^[a-z0-9_+-]+$")
    text: str = ""


class Change(_Message):
    type: Literal["change"]
    version: int = Field(ge=0)
    text: str


class Suggest(_Message):
    type: Literal["suggest"]
    id: int = Field(ge=0)
    version: int = Field(ge=0)
    offset: int = Field(ge=0, description="UTF-16 code units from the start of the text")
    invoked: bool = False


class Accept(_Message):
    type: Literal["accept"]
    suggestion_id: str = Field(max_length=64)
    offset: int | None = Field(None, ge=0, description="UTF-16 offset where a word-by-word piece went")
    chars: int | None = Field(None, ge=0, description="code points of the piece")


class Dismiss(_Message):
    type: Literal["dismiss"]
    suggestion_id: str = Field(max_length=64)


Message = Annotated[Change | Suggest | Accept | Dismiss, Field(discriminator="type")]
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


def register_playground(app: FastAPI, service: CompletionService, auth: Authenticator, store: TelemetryStore) -> None:
    limit = service.settings.server.max_websockets
    open_sessions: set[WebSocket] = set()

    @app.websocket("/v1/playground")
    async def playground(socket: WebSocket) -> None:
        await socket.accept()
        if len(open_sessions) >= limit:
            await _refuse(socket, f"{limit} playground sessions are open already; close a tab", TRY_AGAIN_LATER)
            return
        open_sessions.add(socket)
        try:
            await _serve(socket, service, auth, store)
        finally:
            open_sessions.discard(socket)


async def _serve(socket: WebSocket, service: CompletionService, auth: Authenticator, store: TelemetryStore) -> None:
    """Wait for the tab's hello (with its key, if the gateway has keys), then run its session."""
    wait_s = service.settings.server.header_timeout_s  # the hello is the session's header
    try:
        async with asyncio.timeout(wait_s):
            raw = await receive_text(socket)
        hello = Hello.model_validate_json(raw)
        tenant = auth.of_header(f"Bearer {hello.key}" if hello.key else None)
    except TimeoutError:
        await _refuse(socket, f"no hello message within {wait_s:g} s")
        return
    except ValidationError as exc:
        await _refuse(socket, _describe(exc))
        return
    except RequestError as exc:
        await _refuse(socket, exc.message)
        return
    except WebSocketDisconnect:
        return
    session = PlaygroundSession(socket, service, tenant, store, hello)
    await session.run()


async def receive_text(socket: WebSocket) -> str:
    """The next message as text (a binary frame is read as UTF-8); WebSocketDisconnect when the tab is gone."""
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"").decode("utf-8", "replace")


class PlaygroundSession:
    """One browser tab: its editor service, its document, its pending suggestion request."""

    def __init__(
        self, socket: WebSocket, service: CompletionService, tenant: Tenant, store: TelemetryStore, hello: Hello
    ) -> None:
        self.socket = socket
        self.service = service
        lane = EmbeddedLane(service, tenant, store, owns_backend=False)
        settings = service.settings
        self.editor = EditorService(
            lane, LocalLane(settings.editor.jedi_budget_ms), settings, tenant=tenant.name, telemetry=lane
        )
        self.editor.open(URI, hello.text, 0, hello.language)
        self.tenant = tenant
        self.limit = settings.limits.max_body_bytes
        self._request: asyncio.Task[None] | None = None

    async def run(self) -> None:
        flusher = asyncio.create_task(self._flush_often())
        try:
            await self._send(type="ready", tenant=self.tenant.name, model=self.service.model)
            while True:
                raw = await receive_text(self.socket)
                await self._handle(raw)
        except WebSocketDisconnect:
            pass
        finally:
            flusher.cancel()
            if self._request is not None:
                self._request.cancel()
            await self.editor.aclose()

    async def _handle(self, raw: str) -> None:
        if len(raw) > self.limit:
            await self._send(type="error", error=f"message is over the limit of {self.limit} bytes")
            return
        try:
            message = _MESSAGE.validate_json(raw)
        except ValidationError as exc:
            await self._send(type="error", error=_describe(exc))
            return
        document = self.editor.document(URI)
        assert document is not None
        if isinstance(message, Change):
            self.editor.change(URI, message.version, message.text)
        elif isinstance(message, Suggest):
            if message.version != document.session.version:
                await self._send(type="suggestion", id=message.id, version=message.version, text=None)
                return  # the browser asked for a version it has since replaced
            if self._request is not None:
                self._request.cancel()  # the editor's cancel of a superseded request
            offset = code_points(document.text, message.offset)
            self._request = asyncio.create_task(self._suggest(message, offset))
        elif isinstance(message, Accept):
            start = None if message.offset is None else code_points(document.text, message.offset)
            self.editor.accepted(message.suggestion_id, start, message.chars)
        else:
            self.editor.dismissed(message.suggestion_id)

    async def _suggest(self, message: Suggest, offset: int) -> None:
        document = self.editor.document(URI)
        assert document is not None
        before = document.text[:offset]
        line, column = before.count("\n"), offset - (before.rfind("\n") + 1)
        found = await self.editor.suggest(URI, (line, column), offset, message.invoked)
        await self._send(**_describe_suggestion(message, found, before))

    async def _flush_often(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            await self.editor.flush_telemetry()

    async def _send(self, **message: Any) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the tab is gone: nothing to tell
            await self.socket.send_text(json.dumps(message))


def _describe_suggestion(message: Suggest, found: Suggestion | None, before: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"type": "suggestion", "id": message.id, "version": message.version, "text": None}
    if found is None:
        return answer
    replaced = before[len(before) - found.replace :] if found.replace else ""
    return {
        **answer,
        "text": found.text,
        "suggestion_id": found.id,
        "lane": str(found.lane),
        "reason": found.reason,
        "replace": utf16_length(replaced),
        "latency_ms": round(found.latency_ms, 1),
        "cached_ratio": found.cached_ratio,
    }


def code_points(text: str, utf16_offset: int) -> int:
    """The code-point offset of a UTF-16 offset into `text` (clamped to its end)."""
    encoded = text.encode("utf-16-le")[: utf16_offset * 2]
    return len(encoded.decode("utf-16-le", errors="ignore"))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def _refuse(socket: WebSocket, error: str, code: int = POLICY_VIOLATION) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await socket.send_text(json.dumps({"type": "error", "error": error, "fatal": True}))
        await socket.close(code)


def _describe(exc: ValidationError) -> str:
    return "bad message: " + invalid_request(exc.errors(), whole="message").message
