"""The gateway's ASGI application: routes stay thin, the completion service does the work.

Routes: `POST /v1/completions` (JSON or Server-Sent Events), `POST /infill` (llama-server's, for llama.vim
and llama.vscode; `infill.py`), `GET /v1/models`, `GET /v1/policy` (the organisation's exclusion globs and
secret patterns, for editors to apply before upload), `GET /v1/audit` (the caller's own tenant's audit
records), `GET /v1/usage` (the caller's tenant's running totals: requests, tokens decoded and wasted),
`GET /healthz`, and the OpenAPI document at `/openapi.json`. Telemetry and metrics: `POST /v1/events`,
`GET /v1/telemetry`, `GET /metrics` (`telemetry.py`); the browser playground at `/` with its WebSocket
`/v1/playground` (`playground.py`); the dashboard at `/dashboard` with `GET /v1/dashboard` (`dashboard.py`).
Every `/v1/` route answers for the tenant of the request's API key (`auth.py`). A client that hangs up stops its
generation, streamed or not. Interactive docs are off: they load their scripts from a CDN, and the gateway
must work offline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

import keystroke
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.services.completion import CompletionService
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.dashboard import register_dashboard
from keystroke.transports.http.disconnect import CLIENT_CLOSED, until_disconnected
from keystroke.transports.http.errors import ENGINE, JSON_BODY, error_responses, install_error_handlers
from keystroke.transports.http.infill import register_infill
from keystroke.transports.http.info import register_info
from keystroke.transports.http.pages import register_pages
from keystroke.transports.http.parsing import parse_model, read_json
from keystroke.transports.http.playground import register_playground
from keystroke.transports.http.sse import event_stream
from keystroke.transports.http.telemetry import register_telemetry
from keystroke.transports.http.trust import BrowserGuard
from keystroke.transports.http.wire import (
    CompletionBody,
    CompletionResponse,
)

_STREAM_DOC = (
    "With `stream: true` the answer is `text/event-stream`: `first_action` (the first complete line, the moment"
    " it exists), `delta` (each further line), then `done` (the full response, as without streaming), or"
    " `error`."
)


def create_app(
    service: CompletionService,
    *,
    auth: Authenticator | None = None,
    owns_backend: bool = True,
    telemetry: TelemetryStore | None = None,
) -> FastAPI:
    """The gateway; `telemetry`: where editors' events are kept (default: in memory)."""
    store = telemetry or TelemetryStore(None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_backend:
            await service.aclose()

    app = FastAPI(
        title="keystroke gateway",
        version=keystroke.__version__,
        description="Real-time code completion. Tabby-compatible `/v1/completions`.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    limits = service.settings.limits
    server = service.settings.server
    auth = auth or Authenticator(None, server.max_auth_header_bytes)
    gate = auth  # the middleware asks it per request: keys may be created while the gateway runs
    app.add_middleware(
        BrowserGuard,
        keyless=lambda: gate.open,
        allowed_hosts=server.allowed_hosts,
        allowed_origins=server.allowed_origins,
    )
    request_schema = CompletionBody.model_json_schema(ref_template="#/components/schemas/{model}")
    request_schema["properties"]["max_tokens"]["anyOf"][0]["maximum"] = limits.max_tokens  # this gateway's
    definitions = request_schema.pop("$defs", {})

    @app.post(
        "/v1/completions",
        response_model=CompletionResponse,
        responses={
            **error_responses(*JSON_BODY, *ENGINE),
            200: {"content": {"text/event-stream": {}}, "description": _STREAM_DOC},
        },
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}}},
    )
    async def completions(request: Request) -> Any:
        tenant = auth.tenant(request)
        body = parse_model(await read_json(request, limits.max_body_bytes), CompletionBody)
        completion = body.to_request()
        if body.stream:
            events = service.stream(completion, tenant)  # a bad request fails here, before the response starts
            return StreamingResponse(event_stream(events), media_type="text/event-stream")
        result = await until_disconnected(request, service.complete(completion, tenant))
        if result is None:
            return Response(status_code=CLIENT_CLOSED)
        return JSONResponse(CompletionResponse.of(result).model_dump())

    register_info(app, service, auth)
    register_infill(app, service, auth, definitions)
    register_telemetry(app, service, auth, store, definitions)
    register_dashboard(app, service, auth, store)
    register_playground(app, service, auth, store)
    register_pages(app)
    _register_schemas(app, definitions)
    return app


def _register_schemas(app: FastAPI, definitions: dict[str, Any]) -> None:
    """Put the request body's nested models into components, where its $refs point."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
