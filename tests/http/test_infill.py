"""`POST /infill`: llama-server's request and answer shapes, as llama.vim and llama.vscode send and read them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from keystroke.services.completion import CompletionService
from keystroke.transports.http.app import create_app
from tests.conftest import serve_app

pytestmark = pytest.mark.model

# what llama.vim sends: the current line up to the cursor as `prompt`, and sampling fields keystroke ignores
LLAMA_VIM = {
    "input_prefix": "import math\n\n\ndef circle_area(radius):\n",
    "prompt": "    return math.",
    "input_suffix": "\n",
    "input_extra": [{"text": "PI_DIGITS = 10\n", "time": 12.5, "filename": "constants.py"}],
    "n_predict": 32,
    "n_indent": 4,
    "top_k": 40,
    "top_p": 0.9,
    "stream": False,
    "samplers": ["top_k", "top_p", "infill"],
    "cache_prompt": True,
    "t_max_prompt_ms": 500,
    "t_max_predict_ms": 250,
}
FIELDS = ["content", "timings/prompt_n", "timings/predicted_n", "timings/predicted_ms", "tokens_cached", "truncated"]


@pytest.fixture(scope="module")
def client(service: CompletionService) -> Iterator[httpx.Client]:
    with serve_app(create_app(service, owns_backend=False)) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield http


def test_llama_vims_request_gets_llama_servers_answer(client: httpx.Client) -> None:
    answer = client.post("/infill", json=LLAMA_VIM)
    assert answer.status_code == 200
    body = answer.json()
    assert body["content"]
    assert body["content"].startswith(("pi", "sqrt", "pow", "fabs", "e", "tau"))  # a member of math, typed on
    assert body["stop"] is True
    assert body["tokens_predicted"] >= 1
    timings = body["timings"]
    assert {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"} <= set(timings)
    again = client.post("/infill", json=LLAMA_VIM).json()
    assert again["tokens_cached"] > 0  # the same prompt again is served from the KV cache


def test_response_fields_are_flattened_paths(client: httpx.Client) -> None:
    body = client.post("/infill", json={**LLAMA_VIM, "response_fields": FIELDS}).json()
    assert set(body) == set(FIELDS)
    assert isinstance(body["timings/predicted_n"], int)


def test_streaming_sends_data_events_ending_with_stop(client: httpx.Client) -> None:
    with client.stream("POST", "/infill", json={**LLAMA_VIM, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1]["stop"] is True
    assert all(event["stop"] is False for event in events[:-1])
    assert "".join(event["content"] for event in events[:-1])


def test_n_predict_zero_answers_empty_without_the_engine(client: httpx.Client) -> None:
    body = client.post("/infill", json={**LLAMA_VIM, "n_predict": 0}).json()
    assert body["content"] == ""
    assert body["tokens_evaluated"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_prefix": 5}, "input_prefix"),
        ({"input_extra": [{"filename": "a.py"}]}, "input_extra.0.text"),
        ({"n_predict": -5}, "n_predict"),
        ({"input_extra": "not a list"}, "input_extra"),
    ],
)
def test_bad_fields_get_422_naming_the_field(client: httpx.Client, change: dict[str, object], field: str) -> None:
    answer = client.post("/infill", json={**LLAMA_VIM, **change})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field
    assert client.get("/healthz").status_code == 200


def test_a_body_that_is_not_json_gets_400(client: httpx.Client) -> None:
    answer = client.post("/infill", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request"
