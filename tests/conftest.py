"""Shared fixtures: the real default model, tiny fixture GGUFs, the eval data, a real gateway process."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from keystroke.benchmarks.gateway_process import GatewayProcess
from keystroke.benchmarks.gateway_process import start_gateway as start_gateway_process
from keystroke.config import Settings, load_settings
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.services.completion import CompletionService
from keystroke.services.factory import build_service
from tests.fixtures.tiny_gguf import write_tiny_gguf

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
# gateways started by tests keep their key file and audit log here, never in the user's data folder
os.environ["KEYSTROKE_DATA_DIR"] = tempfile.mkdtemp(prefix="keystroke-test-data-")
# the suite runs on SmolLM2-135M, the small model, where a test does not name another: it is fast, and its
# answers are what the tests were written against (the default model, Qwen2.5-Coder-0.5B, has tests of its own)
TEST_MODEL = "smollm2-135m"
os.environ["KEYSTROKE_ENGINE__MODEL"] = TEST_MODEL


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion on a fresh event loop."""
    return asyncio.run(coroutine)


def make_settings(**overrides: Any) -> Settings:
    # speculation off: its gate's measuring phase alternates batched and single-token decoding, whose logits
    # differ slightly, and tests compare answers; tests/engine/test_speculation.py covers it
    values = {"engine.model": TEST_MODEL, "engine.n_threads": 2, "engine.speculative": "off", **overrides}
    return load_settings(environ={}, overrides=values)


MODEL_FIXTURES = frozenset({"service", "backend"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that loads the real model is a `model` test whether or not its module says so, so the fast lane
    (`-m "not model"`) never loads one."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("model") is None:
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def service() -> Iterator[CompletionService]:
    """The completion service on the real default model (SmolLM2-135M through llama.cpp)."""
    built = build_service(make_settings())
    yield built
    run(built.backend.aclose())


@pytest.fixture(scope="session")
def backend(service: CompletionService) -> EmbeddedBackend:
    assert isinstance(service.backend, EmbeddedBackend)
    return service.backend


@pytest.fixture(scope="session")
def eval_data() -> Path:
    """../shared/eval-data (or $KEYSTROKE_EVAL_DATA); tests that need it skip when it is absent."""
    path = Path(os.environ.get("KEYSTROKE_EVAL_DATA", REPO.parent / "shared" / "eval-data"))
    if not (path / "human-eval-infilling").is_dir():
        pytest.skip(f"benchmark data not found at {path}; set KEYSTROKE_EVAL_DATA to the eval-data folder")
    return path


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("gguf")

    def make(name: str, control_tokens: list[str]) -> Path:
        return write_tiny_gguf(folder / f"{name}.gguf", control_tokens, name=name)

    return make


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[str]

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def resident_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server process, in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_gateway(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0, stderr: Any = None) -> Gateway:
    """Start `keystroke serve --port 0` and wait for the URL it prints (`stderr`: where its log goes)."""
    started = start_gateway_process(None, args=("--threads", "2", *args), env=env, stderr=stderr, timeout_s=timeout)
    return Gateway(started.url, started.process)


def stop_gateway(gateway: Gateway) -> None:
    GatewayProcess(gateway.url, gateway.process).stop()


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    """A real `keystroke serve` process on loopback with the default model."""
    started = start_gateway()
    yield started
    stop_gateway(started)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port from a thread of this process; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
