"""Telemetry, metrics, dashboard data and the playground's WebSocket on a real loopback gateway (real model)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.privacy.tenants import KeyStore
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.services.completion import CompletionService
from keystroke.transports.http.app import create_app
from keystroke.transports.http.auth import Authenticator
from tests.conftest import make_settings, run, serve_app
from tests.privacy.test_gateway_privacy import PROMPT, backend_profile

pytestmark = pytest.mark.model

SHOWN = {
    "kind": "shown",
    "suggestion_id": "s1",
    "lane": "inline",
    "language": "python",
    "chars": 12,
    "latency_ms": 80.5,
}


@dataclass
class Rig:
    url: str
    client: httpx.Client
    store: TelemetryStore
    acme: str
    ops: str

    def call(self, method: str, path: str, key: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.request(method, path, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)


@pytest.fixture
def rig(backend: EmbeddedBackend, tmp_path: Path) -> Iterator[Rig]:
    service = CompletionService(backend, backend_profile(backend), make_settings())
    keys = KeyStore(tmp_path / "keys.json")
    _, acme = keys.create("acme")
    _, ops = keys.create("ops")
    keys.update_tenant("ops", admin=True)
    store = TelemetryStore(tmp_path / "telemetry")
    app = create_app(service, auth=Authenticator(keys, 512), owns_backend=False, telemetry=store)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        yield Rig(url, client, store, acme, ops)
    store.close()


def test_events_are_stored_for_the_keys_tenant_in_its_own_file(rig: Rig) -> None:
    events = [SHOWN, {"kind": "accepted", "suggestion_id": "s1", "lane": "inline", "chars": 12}]
    response = rig.call("POST", "/v1/events", rig.acme, json={"events": events})
    assert response.status_code == 200, response.text
    assert response.json() == {"tenant": "acme", "accepted": 2}
    assert (rig.store.directory / "acme.sqlite3").exists()  # type: ignore[operator]
    rates = rig.call("GET", "/v1/telemetry", rig.acme).json()
    assert (rates["tenant"], rates["shown"], rates["acceptance_rate"]) == ("acme", 1, 1.0)
    assert rig.call("GET", "/v1/telemetry", rig.ops).json()["shown"] == 0  # ops's own telemetry: none


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"events": [{**SHOWN, "tenant": "ops"}]}, 422, "tenant"),  # the tenant comes from the key only
        ({"events": [{**SHOWN, "text": "password = 'x'"}]}, 422, "text"),  # no field can carry code
        ({"events": [{**SHOWN, "kind": "clicked"}]}, 422, "kind"),
        ({"events": [{**SHOWN, "lane": "return a + b"}]}, 422, "lane"),
        ({"events": [{"kind": "retained", "chars": 5, "retained": 9, "horizon_s": 30.0}]}, 422, "retained"),
        ({"events": [SHOWN] * 1001}, 422, "events"),
        ({"events": "all of them"}, 422, "events"),
    ],
)
def test_bad_events_get_a_clear_error_and_nothing_is_stored(
    rig: Rig, body: dict[str, Any], status: int, field: str
) -> None:
    response = rig.call("POST", "/v1/events", rig.acme, json=body)
    assert response.status_code == status
    assert field in response.json()["error"]["message"]
    assert rig.store.rates("acme").shown == 0
    assert rig.call("GET", "/healthz", None).status_code == 200  # still serving


def test_events_need_a_key_and_a_json_body(rig: Rig) -> None:
    assert rig.call("POST", "/v1/events", None, json={"events": [SHOWN]}).status_code == 401
    json_type = {"content-type": "application/json"}
    response = rig.call("POST", "/v1/events", rig.acme, content=b"{not json", headers=json_type)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]["message"]
    undeclared = rig.call("POST", "/v1/events", rig.acme, content=b'{"events": []}')
    assert undeclared.status_code == 415


def test_other_tenants_and_metrics_need_an_admin_key(rig: Rig) -> None:
    assert rig.call("GET", "/v1/telemetry", rig.acme, params={"tenant": "ops"}).status_code == 403
    assert rig.call("GET", "/v1/dashboard", rig.acme, params={"tenant": "ops"}).status_code == 403
    assert rig.call("GET", "/metrics", rig.acme).status_code == 403
    assert rig.call("GET", "/metrics", None).status_code == 401
    assert rig.call("GET", "/v1/telemetry", rig.ops, params={"tenant": "acme"}).status_code == 200
    assert rig.call("GET", "/v1/telemetry", rig.ops, params={"tenant": "../etc"}).status_code == 422
    assert rig.call("GET", "/v1/telemetry", rig.acme, params={"hours": "-1"}).status_code == 422


def metric_families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], name: str, **labels: str) -> float:
    family_name = name.removesuffix("_count").removesuffix("_total").removesuffix("_sum")
    for s in families[family_name].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


def test_metrics_parse_and_count_requests_stages_and_editor_events(rig: Rig) -> None:
    assert rig.call("POST", "/v1/completions", rig.acme, json=PROMPT).status_code == 200
    assert (
        rig.call("POST", "/v1/events", rig.acme, json={"events": [SHOWN, {**SHOWN, "lane": "cache"}]}).status_code
        == 200
    )
    response = rig.call("GET", "/metrics", rig.ops)
    assert response.headers["content-type"].startswith("text/plain")
    families = metric_families(response.text)
    answer = rig.call("POST", "/v1/completions", rig.acme, json=PROMPT).json()
    model, lane = answer["model"], answer["lane"]
    assert lane == "invoked", "an API request without a trigger is an explicit one"
    families = metric_families(rig.call("GET", "/metrics", rig.ops).text)
    assert sample(families, "keystroke_requests_total", lane=lane, model=model, outcome="shown") == 2
    assert sample(families, "keystroke_first_action_seconds_count", lane=lane, model=model) == 2
    for stage in ("queue", "context", "prefill", "first_token", "first_action"):
        assert sample(families, "keystroke_stage_seconds_count", stage=stage) == 2
    assert sample(families, "keystroke_editor_first_action_seconds_count", lane="cache") == 1
    assert sample(families, "keystroke_result_cache_hit_ratio") == 0.5
    assert 0 <= sample(families, "keystroke_kv_cache_hit_ratio") <= 1


def test_the_dashboard_data_has_rates_percentiles_and_plots(rig: Rig) -> None:
    answer = rig.call("POST", "/v1/completions", rig.acme, json=PROMPT).json()
    rig.call("POST", "/v1/events", rig.acme, json={"events": [SHOWN, {**SHOWN, "latency_ms": 120.0}]})
    data = rig.call("GET", "/v1/dashboard", rig.acme).json()
    assert data["tenant"] == "acme"
    assert data["tenants"] == []  # only an admin sees the list
    assert data["first_action_ms"]["inline"]["n"] == 2
    assert answer["lane"] == "invoked", "an API request without a trigger is an explicit one"
    assert data["served_ms"][f"invoked · {answer['model']}"]["n"] >= 1
    assert set(data["plots"]) == {"first_action", "stages", "over_time", "caches"}
    assert all(svg.lstrip().startswith("<?xml") for svg in data["plots"].values())
    admin = rig.call("GET", "/v1/dashboard", rig.ops, params={"tenant": "acme"}).json()
    assert admin["tenant"] == "acme"
    assert {"acme", "ops"} <= set(admin["tenants"])


async def playground(url: str, *messages: dict[str, Any], replies: int) -> list[dict[str, Any]]:
    received = []
    async with websockets.connect(url.replace("http", "ws") + "/v1/playground") as socket:
        for message in messages:
            await socket.send(json.dumps(message))
        while len(received) < replies:
            received.append(json.loads(await asyncio.wait_for(socket.recv(), 60)))
    return received


def test_the_playground_socket_refuses_a_bad_key(rig: Rig) -> None:
    async def refused() -> tuple[dict[str, Any], int | None]:
        async with websockets.connect(rig.url.replace("http", "ws") + "/v1/playground") as socket:
            await socket.send(json.dumps({"type": "hello", "key": "ks_nope"}))
            first = json.loads(await socket.recv())
            with pytest.raises(websockets.ConnectionClosed):
                await socket.recv()
            return first, socket.close_code

    message, code = run(refused())
    assert message["fatal"] is True
    assert "not valid" in message["error"]
    assert code == 1008


def test_the_playground_socket_answers_bad_messages_and_suggests(rig: Rig) -> None:
    text = "def add(a, b):\n    return "
    replies = run(
        playground(
            rig.url,
            {"type": "hello", "key": rig.acme, "text": ""},
            {"type": "change", "version": "one", "text": text},  # bad: a string version
            {"type": "teleport"},  # bad: no such message
            {"type": "change", "version": 1, "text": text},
            {"type": "suggest", "id": 1, "version": 1, "offset": len(text), "invoked": True},
            replies=4,
        )
    )
    assert replies[0]["type"] == "ready"
    assert replies[0]["tenant"] == "acme"
    assert [r["type"] for r in replies[1:3]] == ["error", "error"]
    assert "version" in replies[1]["error"]
    suggestion = replies[3]
    assert (suggestion["type"], suggestion["id"], suggestion["version"]) == ("suggestion", 1, 1)
    assert suggestion["text"]
    assert suggestion["lane"] == "inline"
    assert suggestion["latency_ms"] > 0
    assert 0 <= suggestion["cached_ratio"] <= 1
