"""A fleet of real `llama_cpp.server` processes on loopback behind the remote backend: routing, failover
when a replica crashes or hangs mid-stream, deadlines, and the gateway serving from it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from keystroke.benchmarks.engine_processes import EngineProcess, start_llama_server
from keystroke.domain.engines.base import DoneEvent, GenerationRequest, Prompt, TokenEvent
from keystroke.domain.engines.factory import build_backend
from keystroke.domain.engines.model_source import resolve_model
from keystroke.domain.engines.remote import ZERO_WIDTH_SPACE, RemoteBackend
from keystroke.domain.engines.routing import RoundRobin
from keystroke.errors import ConfigError
from keystroke.services.completion import CompletionService
from keystroke.services.factory import build_service
from keystroke.services.types import CompletionRequest
from tests.conftest import TEST_MODEL, make_settings, run, start_gateway, stop_gateway

pytestmark = [pytest.mark.model, pytest.mark.slow]

HEADER = "import math\n\n\ndef circle_area(radius):\n    return math."
LONG = "# A list of the first forty prime numbers, one per line:\nprimes = [\n    2,\n"


@pytest.fixture(scope="module")
def fleet() -> Iterator[list[EngineProcess]]:
    replicas = [start_llama_server(resolve_model(TEST_MODEL).path) for _ in range(2)]
    yield replicas
    for replica in replicas:
        replica.stop()


@pytest.fixture
def victim() -> Iterator[EngineProcess]:
    """A replica of its own, to crash or hang."""
    replica = start_llama_server(resolve_model(TEST_MODEL).path)
    yield replica
    replica.stop()


def make_remote(urls: list[str], **engine: Any) -> RemoteBackend:
    values = {"engine.kind": "remote", "engine.urls": urls, "engine.tokenizer": TEST_MODEL}
    values.update({f"engine.{key}": value for key, value in engine.items()})
    backend = build_backend(make_settings(**values).engine)
    assert isinstance(backend, RemoteBackend)
    return backend


async def collect(backend: RemoteBackend, request: GenerationRequest, on_first: Any = None) -> tuple[str, Any]:
    """The answer's text and stats; the backend is closed in the same event loop (its connections with it)."""
    text = ""
    try:
        async for event in backend.generate(request):
            if isinstance(event, TokenEvent):
                if not text and on_first is not None:
                    on_first()
                text += event.text
            elif isinstance(event, DoneEvent):
                return text, event.stats
    finally:
        await backend.aclose()
    raise AssertionError("no DoneEvent")  # pragma: no cover


def test_the_fleet_serves_a_completion_through_the_service(fleet: list[EngineProcess]) -> None:
    settings = make_settings(
        **{"engine.kind": "remote", "engine.urls": [r.url for r in fleet], "engine.tokenizer": TEST_MODEL}
    )
    service = build_service(settings)
    try:
        result = run(
            service.complete(CompletionRequest(prefix=HEADER, suffix="\n", filepath="geometry.py", mode="inline"))
        )
        assert result.text
        assert result.finish_reason in ("stop", "eos")
        assert not service.backend.info.tokenizer_id.startswith("approx:")  # the GGUF's vocabulary was loaded
    finally:
        run(service.backend.aclose())


def test_affinity_keeps_each_file_on_one_replica_where_round_robin_does_not(fleet: list[EngineProcess]) -> None:
    urls = [r.url for r in fleet]
    hits = {}
    for routing in ("affinity", "round_robin"):
        backend = make_remote(urls, routing=routing)

        async def rounds(backend: RemoteBackend = backend) -> None:
            for _ in range(3):
                for index in range(5):
                    request = GenerationRequest(
                        Prompt((f"x{index} = ",)), max_tokens=1, route_key=f"t\x1ffile{index}.py"
                    )
                    await collect(backend, request)
            await backend.aclose()

        run(rounds())
        hits[routing] = backend.counters.affinity_hits / backend.counters.requests
    assert hits["affinity"] == pytest.approx(10 / 15)  # every request after a file's first goes back home
    assert hits["round_robin"] < hits["affinity"]


def test_a_replica_killed_mid_stream_fails_over_and_the_answer_continues(
    fleet: list[EngineProcess], victim: EngineProcess
) -> None:
    backend = make_remote([victim.url, fleet[0].url])
    backend.policy = RoundRobin([victim.url, fleet[0].url])  # the victim is asked first
    request = GenerationRequest(Prompt((LONG,)), max_tokens=40)
    started = time.perf_counter()
    text, stats = run(collect(backend, request, on_first=victim.kill))
    elapsed = time.perf_counter() - started
    assert backend.counters.failovers == 1
    assert stats.finish_reason in ("length", "eos")
    assert stats.completion_tokens >= 20  # the survivor continued the answer, not restarted it
    assert "3" in text
    assert backend.counters.failover_ms
    assert backend.counters.failover_ms[0] < 5000
    assert elapsed < 20
    assert not backend.replicas[0].healthy


def test_a_hung_replica_is_failed_over_after_the_stall_timeout(
    fleet: list[EngineProcess], victim: EngineProcess
) -> None:
    backend = make_remote([victim.url, fleet[0].url], stall_timeout_ms=500, first_token_timeout_ms=500)
    backend.policy = RoundRobin([victim.url, fleet[0].url])
    victim.pause()
    started = time.perf_counter()
    text, _ = run(collect(backend, GenerationRequest(Prompt((HEADER,)), max_tokens=4)))
    elapsed = time.perf_counter() - started
    assert text
    assert backend.counters.failovers == 1
    assert 0.5 <= elapsed < 10


def test_no_request_hangs_past_its_deadline_when_every_replica_hangs(victim: EngineProcess) -> None:
    backend = make_remote([victim.url], stall_timeout_ms=60_000, first_token_timeout_ms=60_000)
    settings = make_settings(**{"admission.request_timeout_ms": 800})
    service = CompletionService(backend, build_service_profile(backend), settings)
    victim.pause()
    started = time.perf_counter()

    async def ask() -> Any:
        try:
            return await asyncio.wait_for(service.complete(CompletionRequest(prefix=HEADER)), 10)
        finally:
            await backend.aclose()

    result = run(ask())
    elapsed = time.perf_counter() - started
    assert result.finish_reason == "cancelled"
    assert result.text == ""
    assert 0.8 <= elapsed < 3


def build_service_profile(backend: RemoteBackend) -> Any:
    from keystroke.domain.prompt.profiles import detect_profile

    return detect_profile(backend.info.special_tokens)


def test_the_gateway_serves_from_a_remote_fleet(fleet: list[EngineProcess]) -> None:
    args = [item for r in fleet for item in ("--engine-url", r.url)]
    gateway = start_gateway(*args, "--tokenizer", TEST_MODEL)
    try:
        with gateway.client() as client:
            answer = client.post("/v1/completions", json={"segments": {"prefix": HEADER, "suffix": "\n"}})
            assert answer.status_code == 200
            assert answer.json()["choices"][0]["text"]
            assert client.get("/v1/models").json()["data"][0]["source"].count("http://127.0.0.1") == 2
    finally:
        stop_gateway(gateway)


def test_control_tokens_in_user_text_are_broken_before_they_reach_the_engine(fleet: list[EngineProcess]) -> None:
    backend = make_remote([fleet[0].url])
    rendered = backend.render(Prompt(("x = '<|im_start|>'",)))
    assert "<|im_start|>" not in rendered
    assert f"<{ZERO_WIDTH_SPACE}|im_start|>" in rendered


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"engine.kind": "remote"}, "no replica is configured"),
        ({"engine.kind": "remote", "engine.urls": ["localhost:8000"], "engine.remote_model": "m"}, "must start with"),
    ],
)
def test_a_bad_remote_configuration_says_what_to_do(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_backend(make_settings(**values).engine)
