"""Telemetry and metrics routes: `POST /v1/events`, `GET /v1/telemetry`, `GET /metrics`.

Events are stored for the tenant of the request's key (never one named in the body) and counted into the
gateway's metrics. `GET /v1/telemetry` answers the caller's tenant's derived rates; an admin key may ask for
another tenant's (`?tenant=`), which must be one the gateway knows (a tenant of its key file; `local` without
keys): any other name is a 404, and reading never creates anything. `GET /metrics` (Prometheus text format)
is the whole gateway's, so it needs an admin key when the gateway has keys.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from keystroke.domain.privacy.tenants import TENANT_NAME, Tenant, check_tenant_name
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import ConfigError, ForbiddenError, InvalidRequestError, NotFoundError
from keystroke.services.completion import CompletionService
from keystroke.services.metrics import CONTENT_TYPE
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.errors import JSON_BODY, error_responses
from keystroke.transports.http.parsing import parse_model, read_json
from keystroke.transports.http.wire import EventBatch, EventsAccepted, TelemetryRates

MAX_EVENTS_BYTES = 512 * 1024
MAX_HOURS = 24 * 366
TenantQuery = Annotated[
    str | None,
    Query(pattern=f"^{TENANT_NAME.pattern}$", max_length=64, description="Another tenant (an admin key only)."),
]
HoursQuery = Annotated[float, Query(gt=0, le=MAX_HOURS, description="The window, in hours back from now.")]


def register_telemetry(
    app: FastAPI, service: CompletionService, auth: Authenticator, store: TelemetryStore, definitions: dict[str, Any]
) -> None:
    """The routes; the event schema's nested models go into `definitions` (the OpenAPI components)."""
    schema = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    body = {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
    definitions.update(schema.pop("$defs", {}))

    @app.post("/v1/events", response_model=EventsAccepted, openapi_extra=body, responses=error_responses(*JSON_BODY))
    async def events(request: Request) -> EventsAccepted:
        """Record what became of suggestions (metadata only) for the caller's tenant."""
        tenant = auth.tenant(request)
        batch = parse_model(await read_json(request, MAX_EVENTS_BYTES), EventBatch)
        received = [Event(**body.model_dump()) for body in batch.events]
        count = await service.metrics.ingest(store, tenant.name, received)
        return EventsAccepted(tenant=tenant.name, accepted=count)

    @app.get("/v1/telemetry", response_model=TelemetryRates, responses=error_responses(404, 422))
    async def telemetry(request: Request, tenant: TenantQuery = None, hours: HoursQuery = 24.0) -> TelemetryRates:
        """Acceptance, retained-character, shown and abstain rates over the last `hours`."""
        name = viewed_tenant(auth, auth.tenant(request), tenant)
        rates = await asyncio.to_thread(store.rates, name, since(hours))
        return TelemetryRates(tenant=name, **rates.__dict__)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={**error_responses(), 200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "Metrics"}},
    )
    async def metrics(request: Request) -> Response:
        """Prometheus text format; needs an admin key on a gateway with keys."""
        if not auth.is_admin(auth.tenant(request)):
            raise ForbiddenError("/metrics covers every tenant: it needs an admin tenant's key", "Authorization")
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE)


def viewed_tenant(auth: Authenticator, caller: Tenant, asked: str | None) -> str:
    """The tenant whose telemetry the caller may see: its own, or, for an admin, the one asked for."""
    if asked is None or asked == caller.name:
        return caller.name
    if not auth.is_admin(caller):
        raise ForbiddenError("only an admin tenant's key may read another tenant's telemetry", "tenant")
    try:
        name = check_tenant_name(asked)
    except ConfigError as exc:
        raise InvalidRequestError(str(exc), "tenant") from exc
    if not auth.knows(name):
        raise NotFoundError(f"no tenant {name!r} on this gateway (`keystroke tenants list` shows them)", "tenant")
    return name


def since(hours: float) -> float:
    if not 0 < hours <= MAX_HOURS:  # NaN fails too
        raise InvalidRequestError(f"hours must be between 0 and {MAX_HOURS}, got {hours:g}", "hours")
    return time.time() - hours * 3600
