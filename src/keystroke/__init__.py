"""keystroke: self-hostable, real-time code completion.

The names below are the public surface for code that embeds keystroke (a service in your own process, a
gateway app, an editor session, a backend of your own); `tests/unit/test_public_api.py` pins the list, so a
change to it is deliberate. Everything else is internal and may change. Names load on first use, so
`import keystroke` stays cheap (no model runtime, no web framework)::

    import keystroke

    service = keystroke.build_service(keystroke.load_settings())
    result = await service.complete(keystroke.CompletionRequest("def add(a, b):\\n    return ", mode="inline"))

`keystroke.testing` holds the manual clock and the fault-injection wrappers the test suite uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "CancelToken": "keystroke.domain.engines.base",
    "Capabilities": "keystroke.domain.engines.base",
    "CompletionEvent": "keystroke.services.types",
    "CompletionRequest": "keystroke.services.types",
    "CompletionResult": "keystroke.services.types",
    "CompletionService": "keystroke.services.completion",
    "ConfigError": "keystroke.errors",
    "Deadline": "keystroke.domain.engines.base",
    "Delta": "keystroke.services.types",
    "DoneEvent": "keystroke.domain.engines.base",
    "EditorService": "keystroke.services.editor",
    "EmbeddedLane": "keystroke.services.remote_lane",
    "EngineError": "keystroke.errors",
    "Finished": "keystroke.services.types",
    "FirstAction": "keystroke.services.types",
    "GatewayLane": "keystroke.transports.http.client",
    "GenerationRequest": "keystroke.domain.engines.base",
    "GenerationStats": "keystroke.domain.engines.base",
    "InferenceBackend": "keystroke.domain.engines.base",
    "KeystrokeError": "keystroke.errors",
    "LocalLane": "keystroke.services.local_lane",
    "ModelInfo": "keystroke.domain.engines.base",
    "PreparedRequest": "keystroke.services.preparation",
    "RemoteLane": "keystroke.services.remote_lane",
    "RemoteUnavailableError": "keystroke.errors",
    "RequestError": "keystroke.errors",
    "Settings": "keystroke.config",
    "Snippet": "keystroke.domain.prompt.assembly",
    "Suggestion": "keystroke.services.editor",
    "Tenant": "keystroke.domain.privacy.tenants",
    "TokenEvent": "keystroke.domain.engines.base",
    "Tokenizer": "keystroke.domain.engines.base",
    "Workspace": "keystroke.services.workspace",
    "build_service": "keystroke.services.factory",
    "create_app": "keystroke.transports.http.app",
    "load_settings": "keystroke.config",
}

__all__ = [
    "CancelToken",
    "Capabilities",
    "CompletionEvent",
    "CompletionRequest",
    "CompletionResult",
    "CompletionService",
    "ConfigError",
    "Deadline",
    "Delta",
    "DoneEvent",
    "EditorService",
    "EmbeddedLane",
    "EngineError",
    "Finished",
    "FirstAction",
    "GatewayLane",
    "GenerationRequest",
    "GenerationStats",
    "InferenceBackend",
    "KeystrokeError",
    "LocalLane",
    "ModelInfo",
    "PreparedRequest",
    "RemoteLane",
    "RemoteUnavailableError",
    "RequestError",
    "Settings",
    "Snippet",
    "Suggestion",
    "Tenant",
    "TokenEvent",
    "Tokenizer",
    "Workspace",
    "__version__",
    "build_service",
    "create_app",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'keystroke' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from keystroke.config import Settings, load_settings
    from keystroke.domain.engines.base import (
        CancelToken,
        Capabilities,
        Deadline,
        DoneEvent,
        GenerationRequest,
        GenerationStats,
        InferenceBackend,
        ModelInfo,
        TokenEvent,
        Tokenizer,
    )
    from keystroke.domain.privacy.tenants import Tenant
    from keystroke.domain.prompt.assembly import Snippet
    from keystroke.errors import ConfigError, EngineError, KeystrokeError, RemoteUnavailableError, RequestError
    from keystroke.services.completion import CompletionService
    from keystroke.services.editor import EditorService, Suggestion
    from keystroke.services.factory import build_service
    from keystroke.services.local_lane import LocalLane
    from keystroke.services.preparation import PreparedRequest
    from keystroke.services.remote_lane import EmbeddedLane, RemoteLane
    from keystroke.services.types import (
        CompletionEvent,
        CompletionRequest,
        CompletionResult,
        Delta,
        Finished,
        FirstAction,
    )
    from keystroke.services.workspace import Workspace
    from keystroke.transports.http.app import create_app
    from keystroke.transports.http.client import GatewayLane
