"""A model per lane: the configuration assigns models to inline, multi-line and invoked requests; each answer
says its lane and model (service result, HTTP response, /v1/models, metrics); the embedded engines share one
CPU scheduler. Real llama.cpp engines: the default model inline, a tiny fixture GGUF elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keystroke.config import LaneSettings
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.services.completion import CompletionService
from keystroke.services.factory import build_service
from keystroke.services.lanes import lane_of
from keystroke.services.types import CompletionRequest
from keystroke.transports.http.app import create_app
from tests.conftest import make_settings, run, serve_app

pytestmark = pytest.mark.model

HEADER = "def total(values):\n"
LINE = "def total(values):\n    result = 0\n    for value in values:\n        result +="


@pytest.fixture(scope="module")
def laned(tiny_gguf: Any) -> Iterator[CompletionService]:
    big: Path = tiny_gguf("lane-big", ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"])
    service = build_service(make_settings(**{"lanes.multiline": str(big)}))
    yield service
    run(service.aclose())


def test_unset_lanes_follow_the_lane_before_them() -> None:
    assert LaneSettings().models("default") == dict.fromkeys(("inline", "multiline", "invoked"), "default")
    assert LaneSettings(multiline="big").models("small") == {"inline": "small", "multiline": "big", "invoked": "big"}
    chosen = LaneSettings(inline="a", invoked="c").models("default")
    assert chosen == {"inline": "a", "multiline": "a", "invoked": "c"}


def test_the_lane_of_a_request_is_invoked_when_the_user_asked_else_its_mode() -> None:
    assert lane_of("inline", "automatic") == "inline"
    assert lane_of("multiline", None) == "multiline"
    assert lane_of("inline", "invoked") == "invoked"


def test_each_lane_is_answered_by_its_model_and_says_so(laned: CompletionService) -> None:
    typed = {"trigger": "automatic"}
    inline = run(laned.complete(CompletionRequest(prefix=LINE, suffix="\n", mode="inline", **typed)))
    multiline = run(
        laned.complete(CompletionRequest(prefix=HEADER, suffix="", mode="multiline", max_tokens=8, **typed))
    )
    invoked = run(laned.complete(CompletionRequest(prefix=LINE, suffix="\n", mode="inline", trigger="invoked")))
    assert (inline.lane, multiline.lane, invoked.lane) == ("inline", "multiline", "invoked")
    assert inline.model != "lane-big"
    assert multiline.model == "lane-big"
    assert invoked.model == "lane-big", "an unset invoked lane follows the multi-line lane"
    assert laned.lanes.models() == {"inline": inline.model, "multiline": "lane-big", "invoked": "lane-big"}


def test_two_models_in_one_process_share_one_cpu_scheduler(laned: CompletionService) -> None:
    backends = laned.lanes.backends()
    assert len(backends) == 2
    assert all(isinstance(backend, EmbeddedBackend) for backend in backends)
    turns = {id(backend._worker.turns) for backend in backends if isinstance(backend, EmbeddedBackend)}
    assert len(turns) == 1
    assert None not in {backend._worker.turns for backend in backends if isinstance(backend, EmbeddedBackend)}


def test_one_model_for_every_lane_loads_once_without_a_scheduler(service: CompletionService) -> None:
    assert len(service.lanes.backends()) == 1
    assert isinstance(service.backend, EmbeddedBackend)
    assert service.backend._worker.turns is None


def test_the_gateway_shows_lane_and_model_in_responses_models_and_metrics(laned: CompletionService) -> None:
    with serve_app(create_app(laned)) as url, httpx.Client(base_url=url, timeout=120) as client:
        body = {"segments": {"prefix": HEADER, "suffix": ""}, "mode": "multiline", "trigger": "automatic"}
        answer = client.post("/v1/completions", json={**body, "max_tokens": 6}).json()
        assert (answer["lane"], answer["model"]) == ("multiline", "lane-big")
        typed = {"segments": {"prefix": LINE, "suffix": "\n"}, "trigger": "automatic"}
        inline = client.post("/v1/completions", json=typed).json()
        assert inline["lane"] == "inline"
        assert inline["model"] != "lane-big"
        cards = {card["id"]: card["lanes"] for card in client.get("/v1/models").json()["data"]}
        assert cards == {inline["model"]: ["inline"], "lane-big": ["multiline", "invoked"]}
        metrics = client.get("/metrics").text
        assert 'keystroke_requests_total{lane="multiline",model="lane-big"' in metrics
        assert f'keystroke_first_action_seconds_count{{lane="inline",model="{inline["model"]}"}}' in metrics


def test_a_lane_model_is_the_embedded_file_or_the_name_a_fleet_is_asked_for() -> None:
    from keystroke.config import EngineSettings
    from keystroke.domain.engines.factory import for_model

    embedded = EngineSettings(model="default")
    assert for_model(embedded, "default") is embedded
    assert for_model(embedded, "qwen2.5-coder-1.5b-q4_0").model == "qwen2.5-coder-1.5b-q4_0"
    remote = EngineSettings(kind="remote", urls=("http://fleet:8000",), remote_model="small")
    assert for_model(remote, "big").remote_model == "big"
    assert for_model(remote, "big").model == "default"


def test_a_missing_lane_model_is_named_with_its_lanes() -> None:
    from keystroke.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match=r"^lanes\.multiline, lanes\.invoked: model 'no-such-model'"):
        build_service(make_settings(**{"lanes.multiline": "no-such-model"}))
