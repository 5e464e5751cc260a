"""Backends are chosen by `engine.kind` among entry points: keystroke's own and an installed third party's
through the same mechanism."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from keystroke.domain.engines.registry import GROUP, builder, registered
from keystroke.errors import ConfigError
from keystroke.services.factory import build_service
from keystroke.services.types import CompletionRequest
from tests.conftest import make_settings, run


def test_keystrokes_own_backends_are_registered_entry_points() -> None:
    found = registered()
    assert {"embedded", "remote"} <= set(found)
    assert found["embedded"].value == "keystroke.domain.engines.factory:build_embedded"


def test_an_unknown_kind_names_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown engine kind 'vllm-direct'; registered: .*embedded.*remote"):
        builder("vllm-direct")
    with pytest.raises(ConfigError, match="unknown engine kind"):
        build_service(make_settings(**{"engine.kind": "vllm-direct"}))


@pytest.fixture
def third_party(tmp_path: Path) -> Iterator[str]:
    """An installed package (a distribution on sys.path) that registers a backend kind of its own."""
    (tmp_path / "thirdparty_engine.py").write_text(
        textwrap.dedent(
            """
            from keystroke.domain.engines.factory import build_embedded

            BUILT = []

            def build(settings, turns):
                BUILT.append(settings.model)
                return build_embedded(settings, turns)  # a third party's engine; here llama.cpp again
            """
        )
    )
    info = tmp_path / "thirdparty_engine-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-engine\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nthird-llama = thirdparty_engine:build\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield "third-llama"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("thirdparty_engine", None)


@pytest.mark.model
def test_an_installed_third_party_backend_serves_when_its_kind_is_configured(third_party: str) -> None:
    assert third_party in registered()
    settings = make_settings(**{"engine.kind": third_party})
    service = build_service(settings)
    try:
        built = sys.modules["thirdparty_engine"].BUILT
        assert built == [settings.engine.model]  # built by the third party's builder
        result = run(service.complete(CompletionRequest("def add(a, b):\n    return ", mode="inline")))
        assert result.text
    finally:
        run(service.aclose())
