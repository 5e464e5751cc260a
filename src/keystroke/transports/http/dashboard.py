"""The dashboard: the page at `/dashboard`, and its data at `GET /v1/dashboard`.

The data is one tenant's: the caller's own, or, for an admin key, any tenant's (`?tenant=`; the answer then
lists every tenant with telemetry). It holds the derived rates, the first-action percentiles per lane, and
the plots as SVG (drawn in a worker thread: a few hundred milliseconds). The page is static; it asks for a
key when the gateway wants one and keeps it in the tab's session storage.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request

from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import InvalidRequestError
from keystroke.services.completion import CompletionService
from keystroke.services.dashboard import tenant_view
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.errors import error_responses
from keystroke.transports.http.telemetry import HoursQuery, TenantQuery, since, viewed_tenant
from keystroke.transports.plots import marks, render_all


def register_dashboard(app: FastAPI, service: CompletionService, auth: Authenticator, store: TelemetryStore) -> None:
    @app.get("/v1/dashboard", responses=error_responses(404, 422))
    async def dashboard(request: Request, tenant: TenantQuery = None, hours: HoursQuery = 24.0) -> dict[str, Any]:
        """One tenant's rates, first-action percentiles per lane and plots (SVG); `tenant` needs an admin key."""
        caller = auth.tenant(request)
        name = viewed_tenant(auth, caller, tenant)
        start = since(hours)  # checks the range (and NaN) first
        view = await asyncio.to_thread(tenant_view, store, service.metrics, name, start, _bucket(hours))
        plots = await asyncio.to_thread(render_all, view.panels, "svg")
        tenants = sorted({*store.tenants(), *service.metrics.tenants, caller.name}) if auth.is_admin(caller) else []
        return {
            "tenant": name,
            "tenants": tenants,
            "hours": hours,
            "rates": view.rates.__dict__,
            "first_action_ms": {lane: {"n": len(v), **marks(v)} for lane, v in view.panels.first_action.items()},
            "served_ms": {who: {"n": len(v), **marks(v)} for who, v in view.panels.served.items()},
            "plots": {name: svg.decode("utf-8") for name, svg in plots.items()},
        }


def _bucket(hours: float) -> float:
    """Time buckets for the plots over time: about 24 of them, at least a minute each."""
    if hours <= 0:
        raise InvalidRequestError(f"hours must be positive, got {hours:g}", "hours")
    return max(60.0, hours * 3600 / 24)
