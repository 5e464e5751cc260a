"""The gateway's privacy on a real loopback server with the real model: keys, tenants, redaction, audit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from keystroke.benchmarks.secrets_corpus import corpus
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.privacy.audit import AuditLog
from keystroke.domain.privacy.tenants import KeyStore
from keystroke.errors import RemoteUnavailableError
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest
from keystroke.transports.http.app import create_app
from keystroke.transports.http.auth import Authenticator
from tests.conftest import make_settings, run, serve_app

PROMPT = {"segments": {"prefix": "def add(a, b):\n    return ", "suffix": "\n"}, "mode": "inline", "max_tokens": 8}


@dataclass
class Rig:
    client: httpx.Client
    keys: KeyStore
    service: CompletionService
    acme: str
    globex: str

    def post(self, key: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post("/v1/completions", json=body or PROMPT, headers={"Authorization": f"Bearer {key}"})

    def audit(self, key: str) -> list[dict[str, Any]]:
        response = self.client.get("/v1/audit", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        return list(response.json()["data"])


@pytest.fixture
def rig(backend: EmbeddedBackend, tmp_path: Path) -> Iterator[Rig]:
    settings = make_settings(**{"privacy.policy_exclude": ["vault/"], "privacy.patterns": [r"ACME-\d{6}"]})
    service = CompletionService(backend, backend_profile(backend), settings, audit=AuditLog(tmp_path / "a.sqlite3"))
    keys = KeyStore(tmp_path / "keys.json")
    _, acme = keys.create("acme")
    _, globex = keys.create("globex")
    app = create_app(service, auth=Authenticator(keys, 512), owns_backend=False)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        yield Rig(client, keys, service, acme, globex)


def backend_profile(backend: EmbeddedBackend) -> Any:
    from keystroke.domain.prompt.profiles import detect_profile

    return detect_profile(backend.info.special_tokens, None)


def test_bad_credentials_get_clear_json_errors_and_the_key_is_never_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    revoked_id = rig.keys.keys()[0].id
    truncated, altered = rig.acme[:-3], rig.globex[:-1] + ("A" if rig.globex[-1] != "A" else "B")
    cases = {
        "missing": ({}, 401),
        "basic scheme": ({"Authorization": f"Basic {rig.acme}"}, 401),
        "truncated": ({"Authorization": f"Bearer {truncated}"}, 401),
        "altered": ({"Authorization": f"Bearer {altered}"}, 401),
        "oversized": ({"Authorization": "Bearer " + "k" * 4000}, 431),
    }
    for name, (headers, status) in cases.items():
        response = rig.client.post("/v1/completions", json=PROMPT, headers=headers)
        assert response.status_code == status, name
        error = response.json()["error"]
        assert error["message"], name
        assert error["field"] == "Authorization", name
        assert rig.acme not in response.text
        assert truncated not in response.text
    assert rig.client.get("/v1/models").status_code == 401
    assert rig.client.post("/v1/completions", json=PROMPT).headers["www-authenticate"].startswith("Bearer")
    rig.keys.revoke(revoked_id)
    rig.keys._checked = 0.0  # the server rereads the file within a second; do not wait for it here
    assert rig.post(rig.acme).status_code == 401  # a revoked key, replayed
    rig.keys.update_tenant("globex", disabled=True)
    rig.keys._checked = 0.0
    forbidden = rig.post(rig.globex)
    assert forbidden.status_code == 403
    assert "disabled" in forbidden.json()["error"]["message"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (rig.acme, rig.globex, truncated, altered):
        assert secret not in logged
        assert secret[11:] not in logged
    assert rig.client.get("/healthz").status_code == 200  # still serving


def test_the_tenant_comes_from_the_key_and_two_tenants_share_no_cache(rig: Rig) -> None:
    first = rig.post(rig.acme, {**PROMPT, "user": "globex"}).json()  # a tenant named in the body is ignored
    again = rig.post(rig.acme).json()
    other = rig.post(rig.globex).json()
    assert first["usage"]["prompt_tokens"] == other["usage"]["prompt_tokens"] > 0
    assert again["usage"]["cached_tokens"] > 0  # the same tenant reuses its KV state: the check below can fail
    assert other["usage"]["cached_tokens"] == 0  # identical text from another tenant starts cold
    acme_ids, globex_ids = (
        {r["request_id"] for r in rig.audit(rig.acme)},
        {r["request_id"] for r in rig.audit(rig.globex)},
    )
    assert acme_ids == {first["id"], again["id"]}
    assert globex_ids == {other["id"]}
    record = rig.audit(rig.globex)[0]
    assert record["prefix_bytes"] == len(PROMPT["segments"]["prefix"])
    assert record["outcome"]
    assert "prompt" not in record
    assert "completion" not in record
    assert "return" not in str(record)


def test_the_gateway_redacts_what_an_editor_sent_before_the_engine_sees_it(rig: Rig, backend: EmbeddedBackend) -> None:
    planted = corpus(per_format=1, seed=11)
    prefix = "\n".join(p.code for p in planted[:8]) + "\nORDER = 'ACME-123456'\ndef connect():\n    return "
    suffix = "\n" + "\n".join(p.code for p in planted[8:])
    snippets = [{"filepath": "settings.py", "body": planted[0].code}]
    body = {"segments": {"prefix": prefix, "suffix": suffix, "snippets": snippets}, "mode": "inline", "max_tokens": 4}
    response = rig.post(rig.acme, body)
    assert response.status_code == 200
    tokens = run(backend.call(lambda engine: list(engine.last_prompt)))
    seen = run(backend.call(lambda engine: b"".join(engine.vocabulary.pieces[t] for t in tokens))).decode("utf-8")
    for secret in [p.secret for p in planted] + ["ACME-123456"]:
        assert secret not in seen
    assert "<SECRET_1>" in seen
    assert "def connect():" in seen
    assert rig.audit(rig.acme)[0]["redactions"] >= len(planted)


def test_the_organisation_policy_is_served_and_enforced(rig: Rig) -> None:
    policy = rig.client.get("/v1/policy", headers={"Authorization": f"Bearer {rig.acme}"}).json()
    assert policy == {"exclude": ["vault/"], "patterns": [r"ACME-\d{6}"], "redact": True}
    body = {"segments": {**PROMPT["segments"], "filepath": "vault/keys.py"}, "mode": "inline"}  # type: ignore[dict-item]
    answer = rig.post(rig.acme, body).json()
    assert answer["choices"][0]["text"] == ""
    assert answer["abstain_reason"] == "excluded"
    assert answer["usage"]["prompt_tokens"] == 0  # the engine never saw it
    assert rig.audit(rig.acme)[0]["outcome"] == "excluded"


def test_retained_code_is_kept_redacted_only_for_a_tenant_that_asked(rig: Rig) -> None:
    rig.keys.update_tenant("acme", retain_code=True, retention_days=7)
    rig.keys._checked = 0.0
    secret = corpus(per_format=1, seed=3)[2]
    body = {"segments": {"prefix": secret.code + "\ndef f():\n    return ", "suffix": ""}, "mode": "inline"}
    rig.post(rig.acme, {**body, "max_tokens": 4})
    rig.post(rig.globex, {**body, "max_tokens": 4})
    kept, plain = rig.audit(rig.acme)[0], rig.audit(rig.globex)[0]
    assert "def f():" in kept["prompt"]
    assert secret.secret not in kept["prompt"]
    assert "<SECRET_1>" in kept["prompt"]
    assert "prompt" not in plain


def test_the_audit_limit_is_checked(rig: Rig) -> None:
    response = rig.client.get("/v1/audit?limit=0", headers={"Authorization": f"Bearer {rig.acme}"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "limit"


def test_an_editor_takes_the_gateway_policy_and_cannot_loosen_it(rig: Rig, service: CompletionService) -> None:
    from keystroke.services.editor import EditorService
    from keystroke.services.local_lane import LocalLane
    from keystroke.transports.http.client import GatewayLane

    async def body() -> None:
        lane = GatewayLane(str(rig.client.base_url), rig.acme)
        editor = EditorService(lane, LocalLane(), make_settings(), root=None)
        try:
            editor.open("file:///p/vault/a.py", "x = 1\n", 1, "python", "vault/a.py")
            await editor.connect()
            assert lane.model == service.backend.info.name
            assert lane.tokenizer_id == service.backend.info.tokenizer_id
            assert editor.document("file:///p/vault/a.py").excluded  # type: ignore[union-attr]
            request, _ = editor.preparation.redactor.request(CompletionRequest("ORDER = 'ACME-654321'\n"), "t")
            assert "ACME-654321" not in request.prefix  # the organisation's pattern, applied before upload
        finally:
            await editor.aclose()

    run(body())


def test_an_editor_with_a_wrong_key_says_the_key_was_refused_and_recovers_with_the_right_one(rig: Rig) -> None:
    from keystroke.services.editor import EditorService
    from keystroke.services.local_lane import LocalLane
    from keystroke.transports.http.client import GatewayLane

    async def status_with(key: str) -> tuple[dict[str, object], list[str]]:
        lane = GatewayLane(str(rig.client.base_url), key)
        editor = EditorService(lane, LocalLane(), make_settings(), root=None)
        changes: list[str] = []
        editor.health.listener = lambda health: changes.append(health.state)
        try:
            with contextlib.suppress(RemoteUnavailableError):
                await editor.connect()
            text = "def add(a, b):\n    return "
            editor.open("file:///p/a.py", text, 1, "python", "a.py")
            await editor.suggest("file:///p/a.py", (1, 11), len(text), True)  # answered locally if refused
            return editor.status("file:///p/a.py"), changes
        finally:
            await editor.aclose()

    refused, changes = run(status_with("ks-not-a-key"))
    assert refused["state"] == "refused"
    assert "401" in str(refused["detail"])
    assert "ks-not-a-key" not in str(refused["detail"])  # the key never travels into the status or the log
    assert changes == ["refused"]  # the connect and the request: one change
    ready, changes = run(status_with(rig.acme))
    assert (ready["state"], changes) == ("ready", [])
