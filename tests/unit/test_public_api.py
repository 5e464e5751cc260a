"""The public surface: a sorted `__all__`, pinned here, every name resolvable, and `import keystroke` cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import keystroke
import keystroke.testing

PUBLIC = [
    "CancelToken", "Capabilities", "CompletionEvent", "CompletionRequest", "CompletionResult", "CompletionService",
    "ConfigError", "Deadline", "Delta", "DoneEvent", "EditorService", "EmbeddedLane", "EngineError", "Finished",
    "FirstAction", "GatewayLane", "GenerationRequest", "GenerationStats", "InferenceBackend", "KeystrokeError",
    "LocalLane", "ModelInfo", "PreparedRequest", "RemoteLane", "RemoteUnavailableError", "RequestError", "Settings",
    "Snippet", "Suggestion", "Tenant", "TokenEvent", "Tokenizer", "Workspace", "__version__", "build_service",
    "create_app", "load_settings",
]  # fmt: skip
TESTING = ["DyingBackend", "GatedEngine", "GatedLane", "ManualClock", "StallingBackend", "settle"]


def test_the_public_names_are_pinned_and_sorted() -> None:
    assert keystroke.__all__ == PUBLIC  # a change here is a change to what embedders may rely on
    assert keystroke.__all__ == sorted(keystroke.__all__)
    assert keystroke.testing.__all__ == TESTING == sorted(TESTING)


def test_every_public_name_resolves_to_what_it_says() -> None:
    for name in [*keystroke.__all__, *keystroke.testing.__all__]:
        module = keystroke.testing if name in TESTING else keystroke
        value = getattr(module, name)
        assert value is not None, name
        if name != "__version__":
            assert getattr(value, "__name__", name) == name, name  # the thing itself, not another one
    assert "CompletionService" in dir(keystroke)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NotAThing"):
        keystroke.NotAThing  # noqa: B018


def test_importing_keystroke_loads_neither_the_model_runtime_nor_the_web_framework() -> None:
    code = "import sys, keystroke; print(sorted(m for m in ('llama_cpp', 'fastapi', 'pygls') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
