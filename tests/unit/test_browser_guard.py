"""Who may call the gateway from a browser: the Host and Origin rules, table-driven."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from keystroke.transports.http.trust import BrowserGuard


async def _app(*_: object) -> None:
    raise AssertionError("not called in these tests")


def guard(*, keyless: bool, hosts: tuple[str, ...] = (), origins: tuple[str, ...] = ()) -> BrowserGuard:
    return BrowserGuard(_app, keyless=lambda: keyless, allowed_hosts=hosts, allowed_origins=origins)


def problem(g: BrowserGuard, **headers: str) -> str | None:
    found = g.problem(Headers({k.replace("_", "-"): v for k, v in headers.items()}), "http")
    return None if found is None else found[1]


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("127.0.0.1:8765", False),
        ("localhost:8765", False),
        ("LOCALHOST", False),
        ("[::1]:8765", False),
        ("evil.example:8765", True),
        ("127.0.0.1.evil.example", True),
        ("localhost:notaport", True),
        ("[::1", True),
        ("evil.example@127.0.0.1", True),
        ("127.0.0.1/x", True),
    ],
)
def test_a_keyless_gateway_answers_loopback_names_only(host: str, refused: bool) -> None:
    assert (problem(guard(keyless=True), host=host) == "Host") is refused


def test_a_gateway_with_keys_checks_hosts_only_against_its_list() -> None:
    assert problem(guard(keyless=False), host="completions.example.com") is None
    listed = guard(keyless=False, hosts=("completions.example.com",))
    assert problem(listed, host="completions.example.com:443") is None
    assert problem(listed, host="rebound.example") == "Host"
    assert problem(guard(keyless=True, hosts=("box.lan",)), host="box.lan:8765") is None


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"host": "127.0.0.1:8765"}, None),  # a program: no Origin
        ({"host": "127.0.0.1:8765", "origin": "http://127.0.0.1:8765"}, None),  # the gateway's own pages
        ({"host": "127.0.0.1:8765", "origin": "http://localhost:8765"}, "Origin"),  # another origin
        ({"host": "127.0.0.1:8765", "origin": "https://127.0.0.1:8765"}, "Origin"),
        ({"host": "127.0.0.1:8765", "origin": "null"}, "Origin"),
        ({"host": "127.0.0.1:8765", "origin": "http://evil.example"}, "Origin"),
        ({"host": "127.0.0.1:8765", "sec_fetch_site": "cross-site"}, "Sec-Fetch-Site"),
        ({"host": "127.0.0.1:8765", "sec_fetch_site": "same-site"}, "Sec-Fetch-Site"),
        ({"host": "127.0.0.1:8765", "sec_fetch_site": "same-origin"}, None),
        ({"host": "127.0.0.1:8765", "sec_fetch_site": "none"}, None),  # typed in the address bar
    ],
)
def test_origins(headers: dict[str, str], refused: str | None) -> None:
    assert problem(guard(keyless=True), **headers) == refused
    assert problem(guard(keyless=False), **headers) == refused


def test_listed_origins_are_allowed() -> None:
    g = guard(keyless=True, origins=("https://ide.example.com/",))
    assert problem(g, host="127.0.0.1:8765", origin="https://IDE.example.com") is None
    assert problem(g, host="127.0.0.1:8765", origin="https://other.example.com") == "Origin"
