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
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

import keystroke
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import InvalidRequestError
from keystroke.services.completion import CompletionService
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.dashboard import register_dashboard
from keystroke.transports.http.disconnect import CLIENT_CLOSED, until_disconnected
from keystroke.transports.http.errors import install_error_handlers
from keystroke.transports.http.infill import register_infill
from keystroke.transports.http.pages import register_pages
from keystroke.transports.http.parsing import parse_model, read_json
from keystroke.transports.http.playground import register_playground
from keystroke.transports.http.schemas import (
    AuditList,
    CompletionBody,
    CompletionResponse,
    ErrorBody,
    Health,
    ModelCard,
    ModelList,
    Policy,
    UsageTotals,
)
from keystroke.transports.http.sse import event_stream
from keystroke.transports.http.telemetry import register_telemetry

T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Body is not UTF-8 JSON"),
        (401, "No API key, or an invalid one"),
        (403, "The key's tenant is disabled"),
        (413, "Body or a field over its size limit"),
        (431, "Authorization header over its size limit"),
        (422, "A field has a wrong type or value"),
        (429, "Too much work in flight (the tenant's or the engine's); the Retry-After header says when to retry"),
        (503, "The engine failed"),
    )
}

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
            await service.backend.aclose()

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
    auth = auth or Authenticator(None, service.settings.server.max_auth_header_bytes)
    request_schema = CompletionBody.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = request_schema.pop("$defs", {})

    @app.post(
        "/v1/completions",
        response_model=CompletionResponse,
        responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}, "description": _STREAM_DOC}},
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

    @app.get("/v1/models", response_model=ModelList, responses=_ERRORS)
    async def models(request: Request) -> ModelList:
        auth.tenant(request)
        info = service.backend.info
        card = ModelCard(
            id=info.name,
            source=info.source,
            profile=service.profile.label,
            fim=service.profile.uses_fim,
            n_ctx=info.n_ctx,
            tokenizer_id=info.tokenizer_id,
        )
        return ModelList(data=[card])

    @app.get("/v1/policy", response_model=Policy, responses=_ERRORS)
    async def policy(request: Request) -> Policy:
        auth.tenant(request)
        privacy = service.settings.privacy
        return Policy(exclude=list(privacy.policy_exclude), patterns=list(privacy.patterns), redact=privacy.redact)

    @app.get("/v1/audit", response_model=AuditList, responses=_ERRORS)
    async def audit(request: Request, limit: int = 100) -> AuditList:
        tenant = auth.tenant(request)
        if not 1 <= limit <= 1000:
            raise InvalidRequestError(f"limit must be between 1 and 1000, got {limit}", "limit")
        records = service.audit.records(tenant, limit) if service.audit is not None else []
        return AuditList(tenant=tenant.name, data=records)

    @app.get("/v1/usage", response_model=UsageTotals, responses=_ERRORS)
    async def usage(request: Request) -> UsageTotals:
        tenant = auth.tenant(request)
        return UsageTotals(tenant=tenant.name, **service.usage(tenant))

    @app.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health(model=service.backend.info.name, profile=service.profile.label)

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
