"""The gateway's descriptive routes: what it serves (`GET /v1/models`), the organisation's policy
(`GET /v1/policy`), the caller's tenant's audit records and usage totals (`GET /v1/audit`, `GET /v1/usage`), and
`GET /healthz`. Each answers for the tenant of the request's key (`/healthz` for anyone)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query, Request

from keystroke.services.completion import CompletionService
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.errors import error_responses
from keystroke.transports.http.wire import AuditList, Health, ModelCard, ModelList, Policy, UsageTotals


def register_info(app: FastAPI, service: CompletionService, auth: Authenticator) -> None:
    @app.get("/v1/models", response_model=ModelList, responses=error_responses())
    async def models(request: Request) -> ModelList:
        auth.tenant(request)
        cards = [
            ModelCard(
                id=engine.backend.info.name,
                source=engine.backend.info.source,
                profile=engine.profile.label,
                fim=engine.profile.uses_fim,
                n_ctx=engine.backend.info.n_ctx,
                tokenizer_id=engine.backend.info.tokenizer_id,
                lanes=lanes,
            )
            for engine, lanes in service.lanes.assignments()
        ]
        return ModelList(data=cards)

    @app.get("/v1/policy", response_model=Policy, responses=error_responses())
    async def policy(request: Request) -> Policy:
        auth.tenant(request)
        privacy = service.settings.privacy
        return Policy(exclude=list(privacy.policy_exclude), patterns=list(privacy.patterns), redact=privacy.redact)

    @app.get("/v1/audit", response_model=AuditList, responses=error_responses(422))
    async def audit(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> AuditList:
        tenant = auth.tenant(request)
        records = service.audit.records(tenant, limit) if service.audit is not None else []
        return AuditList(tenant=tenant.name, data=records)

    @app.get("/v1/usage", response_model=UsageTotals, responses=error_responses())
    async def usage(request: Request) -> UsageTotals:
        tenant = auth.tenant(request)
        return UsageTotals(tenant=tenant.name, **service.usage(tenant))

    @app.get("/healthz", response_model=Health, responses=error_responses())
    async def healthz() -> Health:
        return Health(model=service.model, profile=service.profile.label)
