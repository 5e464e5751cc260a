"""Assemble a ready CompletionService from Settings: backend, detected profile, context, service."""

from __future__ import annotations

from keystroke.config import Settings
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.engines.factory import build_backend
from keystroke.domain.privacy.audit import AuditLog
from keystroke.domain.prompt.profiles import detect_profile
from keystroke.services.completion import CompletionService
from keystroke.services.context import ContextService


def build_service(
    settings: Settings, index: RepositoryIndex | None = None, audit: AuditLog | None = None
) -> CompletionService:
    """The completion service; with an `index`, it collects context from that workspace itself; with an
    `audit` log, it writes a record of every request."""
    backend = build_backend(settings.engine)
    profile = detect_profile(backend.info.special_tokens, settings.engine.profile)
    context = None
    if index is not None:
        context = ContextService.for_workspace(index, backend.tokenizer, settings)
    return CompletionService(backend, profile, settings, context=context, audit=audit)
