"""The gateway as an attacker and a careless client meet it: a fresh, keyless `keystroke serve` on loopback.

One test per finding of the hardening issue (its numbers in the names), each against a real process: requests
a web page could send, tenant names that used to cost a file each, valid requests that used to answer 5xx,
hostile JSON, connections that are slow, silent or hung up, start-up in an unusable folder, file modes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateway, run, start_gateway, stop_gateway

pytestmark = pytest.mark.model

BODY = {"language": "python", "segments": {"prefix": "def add(a, b):\n    return", "suffix": ""}, "mode": "inline"}
JSON = {"content-type": "application/json"}


@dataclass
class Fresh:
    gateway: Gateway
    data: Path
    log: Path

    @property
    def port(self) -> int:
        return int(self.gateway.url.rsplit(":", 1)[1])

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.gateway.process.pid}/fd"))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fresh]:
    """A gateway no request has reached yet, with short connection deadlines and a debug log in a file."""
    data = tmp_path_factory.mktemp("hardening-data")
    log = data.parent / "hardening-gateway.log"
    env = {
        "KEYSTROKE_DATA_DIR": str(data),
        "KEYSTROKE_SERVER__HEADER_TIMEOUT_S": "1.5",
        "KEYSTROKE_SERVER__BODY_TIMEOUT_S": "2.5",
        "KEYSTROKE_SERVER__KEEP_ALIVE_S": "1",
        "KEYSTROKE_SERVER__MAX_WEBSOCKETS": "3",
    }
    with log.open("w") as handle:
        started = start_gateway("--log-level", "debug", env=env, stderr=handle)
        try:
            yield Fresh(started, data, log)
        finally:
            stop_gateway(started)


# -- 4: valid requests that answered 5xx ------------------------------------------------------------------------


def test_4_an_empty_prefix_on_a_fresh_engine_then_a_one_character_prefix_are_answered(fresh: Fresh) -> None:
    with fresh.gateway.client() as client:
        empty = client.post("/v1/completions", json={"segments": {"prefix": ""}, "max_tokens": 4})
        infill = client.post("/infill", json={})
        client.post("/v1/completions", json=BODY)
        one = client.post("/v1/completions", json={"segments": {"prefix": "x"}, "max_tokens": 4})
    assert empty.status_code == 200, empty.text
    assert infill.status_code == 200, infill.text
    assert one.status_code == 200, one.text
    assert one.json()["usage"]["cached_tokens"] >= 0


def test_4_text_the_vocabulary_cannot_spell_at_the_prompt_boundary_is_answered(fresh: Fresh) -> None:
    # U+75F1F is UTF-8 f1 b5 bc 9f; the default model's vocabulary has no token for the byte f1 alone
    with fresh.gateway.client() as client:
        response = client.post("/infill", json={"prompt": "\U00075f1f", "n_predict": 4})
    assert response.status_code == 200, response.text


def test_4_an_integer_of_5000_digits_is_a_400_that_does_not_quote_it(fresh: Fresh) -> None:
    body = b'{"segments": {"prefix": "a"}, "max_tokens": ' + b"9" * 5000 + b"}"
    with fresh.gateway.client() as client:
        response = client.post("/v1/completions", content=body, headers=JSON)
        still = client.get("/healthz")
    assert response.status_code == 400
    assert "limit is 40" in response.json()["error"]["message"]
    assert "9999999999" not in response.text
    assert still.status_code == 200


# -- 5: hostile JSON ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 20_000 + b"]" * 20_000, "deeper than 64"),
        (b'{"segments": {"prefix": "a"}, "max_tokens": 1' + b"0" * 4400 + b"}", "number of 4401 characters"),
        (b'{"segments": {"prefix": "a"}, "max_tokens": NaN}', "NaN, which is not JSON"),
        (b'{"segments": {"prefix": "a"}, "score": 1e999}', "too large"),
        (b'{"segments": {"prefix": "\xff"}}', "not valid UTF-8 (bad byte at offset 25)"),
    ],
    ids=["nesting", "long integer", "NaN", "infinite float", "bad UTF-8"],
)
def test_5_hostile_json_is_a_400_without_a_traceback(fresh: Fresh, body: bytes, says: str) -> None:
    with fresh.gateway.client() as client:
        response = client.post("/v1/completions", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert "Traceback" not in fresh.log.read_text()


# -- 1: telemetry tenant names ------------------------------------------------------------------------------


def test_1_unknown_tenant_names_cost_no_file_and_no_descriptor(fresh: Fresh) -> None:
    with fresh.gateway.client() as client:
        client.get("/v1/telemetry")  # the gateway's own tenant: reading creates nothing either
        before = fresh.descriptors()
        answers = {client.get("/v1/telemetry", params={"tenant": f"probe{n}"}).status_code for n in range(300)}
        dashboards = {client.get("/v1/dashboard", params={"tenant": f"probe{n}"}).status_code for n in range(5)}
        after = fresh.descriptors()
    assert answers == dashboards == {404}
    assert after <= before + 2
    telemetry = fresh.data / "telemetry"
    assert not list(telemetry.glob("probe*")), "reading an unknown tenant created its file"


# -- 2: web pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/metrics", "/v1/audit", "/dashboard", "/", "/healthz"])
def test_2_a_foreign_host_name_is_refused_on_a_keyless_gateway(fresh: Fresh, path: str) -> None:
    with fresh.gateway.client() as client:
        refused = client.get(path, headers={"Host": f"evil.example:{fresh.port}"})
        own = client.get(path, headers={"Host": f"localhost:{fresh.port}"})
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "Host"
    assert own.status_code == 200


def test_2_requests_from_other_origins_and_simple_cross_site_posts_are_refused(fresh: Fresh) -> None:
    events = {"events": [{"kind": "abstained", "lane": "inline"}]}
    own_origin = f"http://127.0.0.1:{fresh.port}"
    with fresh.gateway.client() as client:
        foreign = client.post("/v1/events", json=events, headers={"Origin": "http://evil.example"})
        null = client.post("/v1/completions", json=BODY, headers={"Origin": "null"})
        plain = client.post("/v1/completions", content=json.dumps(BODY), headers={"content-type": "text/plain"})
        form = client.post("/v1/events", data={"events": "x"})
        embedded = client.get("/v1/telemetry", headers={"Sec-Fetch-Site": "cross-site"})
        own = client.post("/v1/events", json=events, headers={"Origin": own_origin})
    assert (foreign.status_code, null.status_code, embedded.status_code) == (403, 403, 403)
    assert (plain.status_code, form.status_code) == (415, 415)
    assert own.status_code == 200


def test_2_a_websocket_from_another_origin_never_opens(fresh: Fresh) -> None:
    url = fresh.gateway.url.replace("http://", "ws://") + "/v1/playground"

    async def attempt(origin: str) -> str:
        try:
            async with websockets.connect(url, origin=origin) as socket:  # type: ignore[arg-type]
                await socket.send(json.dumps({"type": "hello"}))
                return str(json.loads(await socket.recv())["type"])
        except websockets.exceptions.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"

    assert run(attempt("http://evil.example")) == "refused 403"
    assert run(attempt(f"http://127.0.0.1:{fresh.port}")) == "ready"


def test_6_a_playground_socket_without_hello_is_closed_and_sessions_are_capped(fresh: Fresh) -> None:
    url = fresh.gateway.url.replace("http://", "ws://") + "/v1/playground"

    async def scenario() -> tuple[str, int | None, str, int | None]:
        async with contextlib.AsyncExitStack() as stack:
            silent = await stack.enter_async_context(websockets.connect(url))
            silent_error = json.loads(await silent.recv())["error"]  # nothing sent: refused at the deadline
            await silent.wait_closed()
            sessions = [await stack.enter_async_context(websockets.connect(url)) for _ in range(3)]
            for session in sessions:
                await session.send(json.dumps({"type": "hello"}))
                assert json.loads(await session.recv())["type"] == "ready"
            extra = await stack.enter_async_context(websockets.connect(url))
            refused = json.loads(await extra.recv())["error"]
            await extra.wait_closed()
            return silent_error, silent.close_code, refused, extra.close_code

    silent_error, silent_code, refused, extra_code = run(scenario())
    assert "no hello" in silent_error
    assert silent_code == 1008
    assert "3 playground sessions" in refused
    assert extra_code == 1013


# -- 6: connections that are slow, silent or gone -------------------------------------------------------------


def _closed_after(sock: socket.socket) -> tuple[float, bytes]:
    """Seconds until the server closed `sock`, and what it sent first."""
    started, received = time.monotonic(), b""
    sock.settimeout(30)
    with contextlib.suppress(OSError):
        while chunk := sock.recv(4096):
            received += chunk
    return time.monotonic() - started, received


def test_6_silent_slow_and_trickling_connections_are_closed_while_others_are_served(fresh: Fresh) -> None:
    def connect(first: bytes = b"") -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", fresh.port))
        sock.sendall(first)
        return sock

    idle = connect()
    slow_header = connect(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    slow_body = connect(b"POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100\r\n\r\n{")  # fmt: skip
    with fresh.gateway.client() as client:
        served = client.get("/healthz").status_code  # while the three hold their connections
    results = [_closed_after(sock) for sock in (idle, slow_header, slow_body)]
    for sock in (idle, slow_header, slow_body):
        sock.close()
    assert served == 200
    for (seconds, answer), limit in zip(results, (1.5, 1.5, 2.5), strict=True):
        assert seconds < limit + 2.0
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"type":"request_timeout"' in answer


def test_6_a_body_still_trickling_after_its_answer_closes_the_connection_without_a_second_answer(
    fresh: Fresh,
) -> None:
    sock = socket.create_connection(("127.0.0.1", fresh.port))
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 100\r\n\r\n{")  # fmt: skip
    seconds, answer = _closed_after(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 415 ")  # answered before the body came, then held to the body's deadline
    assert b" 408 " not in answer
    assert seconds < 2.5 + 2.0


def test_6_a_header_over_its_limit_is_431_at_once(fresh: Fresh) -> None:
    sock = socket.create_connection(("127.0.0.1", fresh.port))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"X-Filler: " + b"a" * 70_000 + b"\r\n")
    seconds, answer = _closed_after(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert seconds < 1.5


def test_9_a_client_that_hangs_up_mid_stream_is_counted_as_a_cancellation(fresh: Fresh) -> None:
    body = {**BODY, "mode": "multiline", "stream": True, "max_tokens": 200, "segments": {"prefix": "def fib(n):\n"}}
    with fresh.gateway.client() as client:
        before = _gone(client)
        with client.stream("POST", "/v1/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("event: first_action"):
                    break  # hang up after the first line
        deadline = time.monotonic() + 10
        while _gone(client) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(client) == before + 1


def _gone(client: httpx.Client) -> float:
    families = text_string_to_metric_families(client.get("/metrics").text)
    samples = [s for f in families if f.name == "keystroke_cancellations" for s in f.samples]
    return sum(s.value for s in samples if s.name.endswith("_total") and s.labels.get("reason") == "reader gone")


# -- 9: smaller things ------------------------------------------------------------------------------------------


def test_9_wrong_method_names_the_allowed_ones_and_infill_caps_n_predict(fresh: Fresh) -> None:
    with fresh.gateway.client() as client:
        wrong = client.delete("/v1/completions")
        huge = client.post("/infill", json={"n_predict": 10**30})
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert huge.status_code == 422
    assert huge.json()["error"]["field"] == "n_predict"


def test_9_the_document_lists_every_error_a_route_answers(fresh: Fresh) -> None:
    with fresh.gateway.client() as client:
        document = client.get("/openapi.json").json()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            listed = set(operation["responses"])
            assert {"401", "403", "408", "431"} <= listed, (method, path)
            if method == "post":
                assert {"400", "413", "415", "422"} <= listed, (method, path)
    assert {"404", "422"} <= set(document["paths"]["/v1/telemetry"]["get"]["responses"])


def test_9_debug_logs_hold_the_gateways_lines_not_font_lookups(fresh: Fresh) -> None:
    with fresh.gateway.client() as client:
        assert client.get("/v1/dashboard").status_code == 200  # draws the plots with matplotlib
    log = fresh.log.read_text()
    assert "matplotlib" not in log
    assert "findfont" not in log


# -- 8: start-up and files ----------------------------------------------------------------------------------


def test_8_files_holding_tenants_data_are_owner_only(fresh: Fresh) -> None:
    with fresh.gateway.client() as client:
        client.post("/v1/events", json={"events": [{"kind": "abstained", "lane": "inline"}]})
    paths = [fresh.data / "audit.sqlite3", *sorted((fresh.data / "telemetry").iterdir())]
    assert any(p.name.endswith("-wal") for p in paths)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((fresh.data / "telemetry").stat().st_mode) == 0o700


@pytest.mark.parametrize("where", ["under-a-file", "read-only"])
def test_8_an_unusable_data_folder_is_one_line_and_exit_2(tmp_path: Path, where: str) -> None:
    if where == "under-a-file":
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        data = blocker / "keystroke"
    else:
        data = Path("/proc/keystroke-data")  # a read-only file system, even for root
    env = {**os.environ, "KEYSTROKE_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "keystroke", "serve", "--port", "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("keystroke: error: cannot ")
    assert str(data) in lines[-1]
    assert "Traceback" not in done.stderr
