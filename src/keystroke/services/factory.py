"""Assemble a ready CompletionService from Settings: backend, detected profile, context, service."""

from __future__ import annotations

from keystroke.config import Settings
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.engines.factory import build_backends
from keystroke.domain.privacy.audit import AuditLog
from keystroke.domain.prompt.profiles import detect_profile
from keystroke.services.completion import CompletionService
from keystroke.services.lanes import LANES, LaneEngine, Lanes
from keystroke.services.workspace import Workspace


def build_service(
    settings: Settings, index: RepositoryIndex | None = None, audit: AuditLog | None = None
) -> CompletionService:
    """The completion service; with an `index`, it collects context from that workspace itself (the service's
    `workspace` then owns the index and follows its files if `context.watch`; its caller closes it); with an
    `audit` log, it writes a record of every request. Each lane gets the model `settings.lanes` assigns it."""
    backends = build_backends(settings.engine, settings.lanes.models(settings.engine.model))
    profiles = {id(b): detect_profile(b.info.special_tokens, settings.engine.profile) for b in backends.values()}
    lanes = Lanes({lane: LaneEngine(backends[lane], profiles[id(backends[lane])]) for lane in LANES})
    inline = lanes.engine("inline")
    workspace = None
    if index is not None:
        watch = settings.context.watch
        workspace = Workspace.over(index, inline.backend.tokenizer, settings, watch=watch, owns_index=True)
    return CompletionService(inline.backend, inline.profile, settings, workspace=workspace, audit=audit, lanes=lanes)
