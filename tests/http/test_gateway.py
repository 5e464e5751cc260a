"""The gateway as users meet it: a real `keystroke serve` process on loopback, driven over HTTP."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway

pytestmark = pytest.mark.model

BODY = {"language": "python", "segments": {"prefix": "def add(a, b):\n    return", "suffix": ""}, "mode": "inline"}


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_health_and_models(gateway: Gateway) -> None:
    with gateway.client() as client:
        health = client.get("/healthz").json()
        models = client.get("/v1/models").json()
    assert health["status"] == "ok"
    assert health["profile"] == "l2r"
    (card,) = models["data"]
    assert card["source"] == "smollm2-135m"  # the suite's model (tests/conftest.py)
    assert card["fim"] is False
    assert card["id"] == health["model"]


def test_completion_in_the_tabby_shape_with_usage_and_timings(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.post("/v1/completions", json={**BODY, "request_id": "req-7"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "req-7"
    assert body["choices"][0]["index"] == 0
    assert body["choices"][0]["text"]
    assert set(body["usage"]) == {"prompt_tokens", "cached_tokens", "completion_tokens", "candidates"}
    assert set(body["timings"]) >= {
        "queue_ms",
        "prompt_build_ms",
        "prefill_ms",
        "first_token_ms",
        "first_action_ms",
        "total_ms",
    }


def test_consecutive_requests_report_cached_prompt_tokens(gateway: Gateway) -> None:
    with gateway.client() as client:
        first = client.post("/v1/completions", json=BODY).json()
        longer = {**BODY, "segments": {"prefix": BODY["segments"]["prefix"] + " a +"}}  # type: ignore[index]
        second = client.post("/v1/completions", json=longer).json()
    assert second["usage"]["cached_tokens"] >= first["usage"]["prompt_tokens"] - 2


def test_the_trigger_decides_whether_a_fresh_line_is_ranked(gateway: Gateway) -> None:
    fresh_line = {
        "language": "python",
        "mode": "inline",
        "segments": {"prefix": "def total(values):\n    result = 0\n", "suffix": "    return result\n"},
    }
    with gateway.client() as client:
        typed = client.post("/v1/completions", json={**fresh_line, "trigger": "automatic"}).json()
        asked = client.post("/v1/completions", json=fresh_line).json()  # invoked, the default
    assert typed["usage"]["candidates"] == 1
    assert asked["usage"]["candidates"] > 1


def test_tabby_context_fields_are_accepted(gateway: Gateway) -> None:
    segments = {
        "prefix": "total = add(1, ",
        "filepath": "main.py",
        "declarations": [{"filepath": "calc.py", "body": "def add(a, b):\n    return a + b\n"}],
        "relevant_snippets_from_changed_files": [{"filepath": "x.py", "body": "y = 2", "score": 0.5}],
        "clipboard": "ignored",
    }
    with gateway.client() as client:
        response = client.post("/v1/completions", json={"segments": segments, "user": "someone", "temperature": 0.1})
    assert response.status_code == 200, response.text


def test_streaming_sends_the_first_action_before_done(gateway: Gateway) -> None:
    body = {**BODY, "stream": True, "segments": {"prefix": "numbers = [\n    1,\n    2,\n"}, "mode": "multiline"}
    with gateway.client() as client, client.stream("POST", "/v1/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "first_action"
    assert names[-1] == "done"
    assert set(names[1:-1]) <= {"delta"}
    streamed = events[0][1]["text"] + "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert streamed == done["choices"][0]["text"]
    assert done["timings"]["first_action_ms"] <= done["timings"]["total_ms"]


def test_a_second_request_of_the_same_session_stops_the_first(gateway: Gateway) -> None:
    prefix = "numbers = [\n" + "".join(f"    {i},\n" for i in range(1, 6))
    first_body = {
        "segments": {"prefix": prefix},
        "mode": "multiline",
        "stream": True,
        "session_id": "s1",
        "max_tokens": 400,
    }
    second_body = {"segments": {"prefix": prefix + "    6,\n"}, "mode": "inline", "session_id": "s1"}
    results: dict[str, Any] = {}
    with gateway.client() as client, client.stream("POST", "/v1/completions", json=first_body) as response:
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event: first_action"):
                break

        def send_second() -> None:
            with gateway.client() as other:
                results["second"] = other.post("/v1/completions", json=second_body).json()

        sender = threading.Thread(target=send_second)
        sender.start()
        done = next(json.loads(line[6:]) for line in lines if line.startswith("data: ") and '"usage"' in line)
        sender.join(timeout=60)
    assert done["choices"][0]["finish_reason"] == "cancelled"
    assert done["usage"]["completion_tokens"] < 400
    assert results["second"]["choices"][0]["finish_reason"] in ("stop", "eos")


BAD_INPUTS = [
    pytest.param(b'{"segments": {"prefix": "x"', 400, None, id="malformed JSON"),
    pytest.param(b'{"segments": {"prefix": "\xff\xfe"}}', 400, None, id="invalid UTF-8"),
    pytest.param(b"", 400, None, id="empty body"),
    pytest.param(b"[1, 2]", 400, None, id="not an object"),
    pytest.param(b'{"segments": {"prefix": "\\ud800"}}', 400, "segments.prefix", id="unpaired surrogate"),
    pytest.param(json.dumps({"language": "python"}), 422, "segments", id="missing segments"),
    pytest.param(json.dumps({"segments": {"prefix": 5}}), 422, "segments.prefix", id="prefix of the wrong type"),
    pytest.param(
        json.dumps({"segments": {"prefix": "x"}, "max_tokens": "5"}), 422, "max_tokens", id="string max_tokens"
    ),
    pytest.param(
        json.dumps({"segments": {"prefix": "x"}, "max_tokens": -3}), 422, "max_tokens", id="negative max_tokens"
    ),
    pytest.param(
        json.dumps({"segments": {"prefix": "x"}, "max_tokens": 10**9}), 422, "max_tokens", id="huge max_tokens"
    ),
    pytest.param(json.dumps({"segments": {"prefix": "x"}, "mode": "psychic"}), 422, "mode", id="unknown mode"),
    pytest.param(json.dumps({"segments": {"prefix": "x"}, "stream": "yes"}), 422, "stream", id="stream not a boolean"),
    pytest.param(json.dumps({"segments": {"prefix": "x"}, "trigger": "auto"}), 422, "trigger", id="unknown trigger"),
    pytest.param(json.dumps({"segments": {"prefix": "x" * 1_000_001}}), 413, "segments.prefix", id="prefix over 1 MB"),
    pytest.param(json.dumps({"segments": {"prefix": "x" * 4_100_000}}), 413, None, id="body over 4 MB"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_INPUTS)
def test_bad_input_gets_a_clear_json_error_and_the_server_keeps_serving(
    gateway: Gateway, body: bytes | str, status: int, field: str | None
) -> None:
    with gateway.client() as client:
        response = client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["message"]
        assert error["field"] == field
        assert client.get("/healthz").status_code == 200
        assert client.post("/v1/completions", json=BODY).status_code == 200


def test_unknown_routes_and_methods_answer_in_json(gateway: Gateway) -> None:
    with gateway.client() as client:
        missing = client.get("/nope")
        wrong_method = client.get("/v1/completions")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "http_error"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["message"]


def test_the_openapi_document_matches_the_routes(gateway: Gateway) -> None:
    with gateway.client() as client:
        document = client.get("/openapi.json").json()
    paths = {path: set(methods) for path, methods in document["paths"].items()}
    assert paths == {
        "/v1/completions": {"post"},
        "/v1/models": {"get"},
        "/v1/policy": {"get"},
        "/v1/audit": {"get"},
        "/v1/usage": {"get"},
        "/v1/events": {"post"},
        "/v1/telemetry": {"get"},
        "/v1/dashboard": {"get"},
        "/metrics": {"get"},
        "/healthz": {"get"},
        "/infill": {"post"},
    }
    assert "input_prefix" in str(document["paths"]["/infill"]["post"]["requestBody"])
    request_schema = document["paths"]["/v1/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert request_schema["schema"]["required"] == ["segments"]
    ref = request_schema["schema"]["properties"]["segments"]["$ref"]
    assert ref.split("/")[-1] in document["components"]["schemas"]
    assert "text/event-stream" in document["paths"]["/v1/completions"]["post"]["responses"]["200"]["content"]


def test_resident_memory_of_the_server_stays_under_600_mb(gateway: Gateway) -> None:
    with gateway.client() as client:
        for _ in range(3):
            client.post("/v1/completions", json={**BODY, "mode": "multiline"})
    current, peak = gateway.resident_mb()
    assert peak <= 600, f"peak resident memory {peak:.0f} MB"
    assert current <= peak


def test_usage_counts_the_callers_requests_and_tokens(gateway: Gateway) -> None:
    with gateway.client() as client:
        before = client.get("/v1/usage").json()
        client.post("/v1/completions", json={**BODY, "mode": "inline"})
        after = client.get("/v1/usage").json()
    assert after["tenant"] == "local"
    assert after["requests"] == before["requests"] + 1
    assert after["decoded_tokens"] > before["decoded_tokens"]
    assert after["prompt_tokens"] > before["prompt_tokens"]
