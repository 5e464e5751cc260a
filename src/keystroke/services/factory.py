"""Assemble a ready CompletionService from Settings: backend, detected profile, service."""

from __future__ import annotations

from keystroke.config import Settings
from keystroke.domain.engines.factory import build_backend
from keystroke.domain.prompt.profiles import detect_profile
from keystroke.services.completion import CompletionService


def build_service(settings: Settings) -> CompletionService:
    backend = build_backend(settings.engine)
    profile = detect_profile(backend.info.special_tokens, settings.engine.profile)
    return CompletionService(backend, profile, settings)
