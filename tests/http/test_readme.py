"""The README's example request really works, and answers in the shape the README shows."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO, Gateway

pytestmark = pytest.mark.model


def readme_example() -> tuple[dict[str, object], dict[str, object]]:
    text = (REPO / "README.md").read_text()
    request = re.search(r"curl -s localhost:8765/v1/completions .*?-d '(\{.*?\})'", text, re.DOTALL)
    response = re.search(r"```json\n(\{.*?\})\n```", text, re.DOTALL)
    assert request, "the README lost its example request"
    assert response, "the README lost its example response"
    return json.loads(request.group(1)), json.loads(response.group(1))


def test_the_readme_curl_example_gets_the_documented_answer(gateway: Gateway) -> None:
    request, documented = readme_example()
    with gateway.client() as client:
        answer = client.post("/v1/completions", json=request)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == set(documented)
    assert set(body["usage"]) == set(documented["usage"])  # type: ignore[arg-type]
    assert set(body["timings"]) == set(documented["timings"])  # type: ignore[arg-type]
    assert body["choices"][0]["text"] == documented["choices"][0]["text"]  # type: ignore[index]
