"""Engine faults seen through the gateway: a backend that dies mid-stream, one that stalls."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import httpx
import pytest

from keystroke.domain.engines.faults import DyingBackend, StallingBackend
from keystroke.services.completion import CompletionService
from keystroke.transports.http.app import create_app
from keystroke.transports.http.wire import CompletionResponse
from tests.conftest import serve_app

pytestmark = pytest.mark.model

MULTILINE = {"segments": {"prefix": "numbers = [\n    1,\n    2,\n"}, "mode": "multiline"}


def faulty(service: CompletionService, backend: Any) -> Any:
    return create_app(CompletionService(backend, service.profile, service.settings), owns_backend=False)


def test_a_backend_dying_mid_stream_ends_the_stream_with_an_error_event(service: CompletionService) -> None:
    app = faulty(service, DyingBackend(service.backend, after_tokens=8))
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        with client.stream("POST", "/v1/completions", json={**MULTILINE, "stream": True}) as response:
            assert response.status_code == 200
            names = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
        assert names[0] == "first_action"
        assert names[-1] == "error"
        assert "done" not in names
        plain = client.post("/v1/completions", json=MULTILINE)
        assert plain.status_code == 503
        assert "injected fault" in plain.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200


def test_a_stalled_request_is_released_by_the_next_one_of_its_session(service: CompletionService) -> None:
    app = faulty(service, StallingBackend(service.backend))
    body = {"segments": {"prefix": "x = "}, "session_id": "editor-1"}
    results: dict[str, Any] = {}
    with serve_app(app) as url:

        def stalled() -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                results["first"] = client.post("/v1/completions", json=body).json()

        waiter = threading.Thread(target=stalled)
        waiter.start()
        with httpx.Client(base_url=url, timeout=0.5) as client:
            while "first" not in results:  # each newer request supersedes; each gives up after 0.5 s
                with contextlib.suppress(httpx.TimeoutException):
                    client.post("/v1/completions", json=body)
        waiter.join(timeout=10)
    first = results["first"]
    assert first["choices"][0]["finish_reason"] == "cancelled"
    assert first["abstain_reason"] == "cancelled"
    answer = CompletionResponse.model_validate(first)  # a well-formed answer of the protocol, not a hang
    assert answer.usage.completion_tokens == 0  # the stalled engine produced nothing


def test_a_client_that_hangs_up_stops_its_generation(service: CompletionService) -> None:
    stalling = StallingBackend(service.backend)
    with serve_app(faulty(service, stalling)) as url, httpx.Client(base_url=url, timeout=0.3) as client:
        with pytest.raises(httpx.TimeoutException):
            client.post("/v1/completions", json={"segments": {"prefix": "x = "}})
        deadline = time.monotonic() + 10
        while stalling.released == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert stalling.released == 1
