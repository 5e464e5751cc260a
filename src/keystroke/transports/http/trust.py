"""Who may talk to the gateway from a browser: the Host and Origin checks, in front of every route.

A keyless gateway on loopback trusts whoever can connect, which includes every web page the user opens: a page
may send a request to `http://127.0.0.1:8765` (a form, `fetch` with a simple content type, a WebSocket), and a
DNS-rebinding page (its own name resolving to 127.0.0.1) may even read the answers. So, before any route:

- **Host.** While the gateway has no keys (single-user, loopback) a request must name a loopback host
  (`localhost`, `127.0.0.1`, `[::1]`, any port) or one listed in `server.allowed_hosts`: a rebinding page's
  requests carry its own name. A gateway with keys checks Host only against `server.allowed_hosts`, when set.
- **Origin.** A request a browser sends on behalf of a page carries `Origin` (always for WebSockets and for
  cross-origin `POST`s); it must be the gateway's own origin (the playground and the dashboard) or one listed in
  `server.allowed_origins`. `Origin: null` (sandboxed frames, files) is refused.
- **Fetch metadata.** A request without `Origin` that a browser marks `Sec-Fetch-Site: cross-site` or
  `same-site` (an `<img>` or `<script>` pointing at the gateway) is refused too.

Requests from programs (editors, `curl`, the language server) carry no `Origin` and pass. A refusal is a 403
with the usual JSON error (a WebSocket handshake is refused with 403 before it opens). Bodies must also be
declared JSON (`parsing.py`), so a simple cross-site POST is refused even by a browser that sends no Origin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from keystroke.transports.http.wire import ErrorBody, ErrorDetail

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_SCHEMES = {"ws": "http", "wss": "https"}


class BrowserGuard:
    """ASGI middleware; `keyless`: whether the gateway runs without keys right now (asked per request, since
    keys may be created while it runs)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keyless: Callable[[], bool],
        allowed_hosts: tuple[str, ...] = (),
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.keyless = keyless
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.allowed_origins = frozenset(origin.lower().rstrip("/") for origin in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scheme = str(scope.get("scheme") or "http")
        problem = self.problem(Headers(scope=scope), _SCHEMES.get(scheme, scheme))
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[0][:120]})
        else:
            await _refuse(send, *problem)

    def problem(self, headers: Headers, scheme: str) -> tuple[str, str] | None:
        """Why the request is refused and the header at fault, or None."""
        host = headers.get("host", "")
        if host and not self._host_allowed(host):
            why = "a keyless gateway answers loopback names only" if self.keyless() else "it is not in allowed_hosts"
            return f"Host {host[:100]!r} is not this gateway's: {why} (server.allowed_hosts adds names)", "Host"
        origin = headers.get("origin")
        if origin is not None:
            if self._origin_allowed(origin, scheme, host):
                return None
            why = f"requests from web pages of origin {origin[:100]!r} are refused"
            return f"{why}; add the origin to server.allowed_origins to allow it", "Origin"
        if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
            return "requests a browser makes for another site's page are refused", "Sec-Fetch-Site"
        return None

    def _host_allowed(self, host: str) -> bool:
        name = _hostname(host)
        if name is None:
            return False
        if name in LOOPBACK_NAMES:
            return True
        if self.allowed_hosts:
            return name in self.allowed_hosts or host.lower() in self.allowed_hosts
        return not self.keyless()

    def _origin_allowed(self, origin: str, scheme: str, host: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if origin in self.allowed_origins:
            return True
        return bool(host) and origin == f"{scheme}://{host.lower()}"


def _hostname(host: str) -> str | None:
    """The name in a Host header ('[::1]:8765' -> '::1'), or None when it is not a host[:port]."""
    if any(mark in host for mark in "@/\\?# \t"):  # user info, a path: no browser sends these
        return None
    try:
        parts = urlsplit(f"//{host}")
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return None
    return parts.hostname


async def _refuse(send: Send, message: str, field: str) -> None:
    error = ErrorBody(error=ErrorDetail(type="forbidden", message=message, field=field))
    body = json.dumps(error.model_dump(), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
