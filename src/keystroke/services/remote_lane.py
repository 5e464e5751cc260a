"""The remote lane: the model's suggestion, from a gateway over HTTP or from the engine in-process.

One small interface (`RemoteLane`) with two implementations, so the editor service does not know which it has:
- `GatewayLane` streams `POST /v1/completions` (Server-Sent Events) and returns at the `first_action` event
  for a one-line request; cancelling the call closes the HTTP stream, and the gateway stops decoding;
- `EmbeddedLane` runs the completion service in this process (`keystroke lsp --embedded`); cancelling the
  call closes the service's stream, and the engine stops decoding within a token.

Errors a user can act on (gateway down, refused, timed out, answered garbage) become `RemoteUnavailableError`
with what happened; the editor service then answers from the local lane.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx

from keystroke.domain.engines.base import Tokenizer
from keystroke.domain.privacy.tenants import LOCAL, Tenant
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import EngineError, KeystrokeError, RemoteUnavailableError
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest, Delta, Finished, FirstAction, Usage

LOCAL_TENANT = Tenant(LOCAL)


@dataclass(frozen=True)
class RemotePolicy:
    """What the serving side requires kept from upload: exclusion globs and secret patterns (its organisation
    policy), applied by the editor on top of its own settings; it can only add to them."""

    exclude: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteAnswer:
    text: str
    model: str
    first_action_ms: float | None  # as the serving side measured it
    cached_ratio: float | None = None  # share of the prompt's tokens the engine had in its KV cache, if known
    lane: str = ""  # the serving side's lane (inline, multiline, invoked) when it said
    completion_tokens: int | None = None  # tokens the engine decoded for it, when known


class RemoteLane(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def tokenizer_id(self) -> str:
        """The model's tokenizer fingerprint (cache keys carry it); 'unknown' before `connect`."""
        ...

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The model's tokenizer when it runs in this process (None behind a gateway)."""
        ...

    async def connect(self) -> RemotePolicy:
        """Learn the model (cache keys carry it) and the serving side's privacy policy."""
        ...

    async def complete(self, request: CompletionRequest) -> RemoteAnswer: ...

    async def report(self, events: list[Event]) -> None:
        """Deliver telemetry events to the serving side (`TelemetrySink`)."""
        ...

    async def aclose(self) -> None: ...


class EmbeddedLane:
    """The service in this process, asked on behalf of `tenant`. `telemetry`: where events go (none: dropped);
    `owns_backend`: closing the lane closes the engine (not so for the gateway's playground sessions)."""

    def __init__(
        self,
        service: CompletionService,
        tenant: Tenant = LOCAL_TENANT,
        telemetry: TelemetryStore | None = None,
        *,
        owns_backend: bool = True,
    ) -> None:
        self.service = service
        self.tenant = tenant
        self.telemetry = telemetry
        self.owns_backend = owns_backend

    @property
    def model(self) -> str:
        return self.service.backend.info.name

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self.service.backend.tokenizer

    @property
    def tokenizer_id(self) -> str:
        return self.service.backend.info.tokenizer_id

    async def connect(self) -> RemotePolicy:
        return RemotePolicy()  # the service in this process applies its own settings

    async def complete(self, request: CompletionRequest) -> RemoteAnswer:
        """The answer, read to its end: a one-line request's generation stops at the end of its first line
        anyway, and the end carries the prompt's KV-cache share."""
        text, first_ms, cached, lane, model, tokens = "", None, None, "", self.model, None
        try:
            stream = self.service.stream(request, self.tenant)
        except KeystrokeError as exc:  # a request the service refuses (too large, overloaded): local lane
            raise RemoteUnavailableError(f"the engine refused the request: {exc}") from exc
        try:
            async for event in stream:
                if isinstance(event, FirstAction):
                    text, first_ms = event.text, event.at_ms
                elif isinstance(event, Delta):
                    text += event.text
                elif isinstance(event, Finished):
                    text, cached = event.result.text, _cached_ratio(event.result.usage)
                    lane, model = event.result.lane, event.result.model
                    tokens = event.result.usage.completion_tokens
        except EngineError as exc:
            raise RemoteUnavailableError(f"the engine failed: {exc}") from exc
        finally:
            await stream.aclose()
        return RemoteAnswer(text, model, first_ms, cached, lane, tokens)

    async def report(self, events: list[Event]) -> None:
        if self.telemetry is not None:
            await self.service.metrics.ingest(self.telemetry, self.tenant.name, events)

    async def aclose(self) -> None:
        if self.owns_backend:
            await self.service.aclose()


class GatewayLane:
    """The gateway over HTTP + SSE. After a 429 it does not ask again until the gateway's Retry-After has
    passed (the local lane answers meanwhile), so an overloaded gateway is not pressed harder."""

    def __init__(
        self, url: str, key: str | None = None, timeout_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout_s)
        self._model = "unknown"
        self._tokenizer_id = "unknown"
        self._clock = clock
        self._retry_at = 0.0

    @property
    def model(self) -> str:
        return self._model

    @property
    def tokenizer_id(self) -> str:
        return self._tokenizer_id

    @property
    def tokenizer(self) -> Tokenizer | None:
        return None

    async def connect(self) -> RemotePolicy:
        """Ask the gateway which model it serves (the result cache keys carry it) and its privacy policy."""
        try:
            response = await self._client.get("/v1/models")
            response.raise_for_status()
            card = response.json()["data"][0]
            self._model, self._tokenizer_id = str(card["id"]), str(card.get("tokenizer_id", "unknown"))
            response = await self._client.get("/v1/policy")
            response.raise_for_status()
            policy = response.json()
            return RemotePolicy(tuple(map(str, policy["exclude"])), tuple(map(str, policy["patterns"])))
        except (httpx.HTTPError, KeyError, IndexError, ValueError, TypeError) as exc:
            raise RemoteUnavailableError(f"gateway {self.url} did not describe itself: {_describe(exc)}") from exc

    async def complete(self, request: CompletionRequest) -> RemoteAnswer:
        wait = self._retry_at - self._clock()
        if wait > 0:
            raise RemoteUnavailableError(f"gateway overloaded; asking again in {wait:.1f} s")
        body = _body(request)
        try:
            async with self._client.stream("POST", "/v1/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    if response.status_code == 429:
                        self._retry_at = self._clock() + _retry_after_s(response)
                    raise RemoteUnavailableError(f"gateway answered {response.status_code}: {response.text[:200]}")
                return await self._read(_events(response), request.mode == "inline" and not request.background)
        except httpx.HTTPError as exc:
            raise RemoteUnavailableError(f"gateway {self.url}: {_describe(exc)}") from exc

    async def _read(self, events: AsyncIterator[tuple[str, dict[str, Any]]], inline: bool) -> RemoteAnswer:
        text, first_ms, lane, model = "", None, "", self._model
        async for name, data in events:
            if name == "first_action":
                text, first_ms = str(data.get("text", "")), data.get("first_action_ms")
                lane, model = str(data.get("lane", "")), str(data.get("model") or model)
                if inline:
                    break  # leaving the stream closes it: the gateway stops decoding
            elif name == "delta":
                text += str(data.get("text", ""))
            elif name == "done":
                lane, model = str(data.get("lane", lane)), str(data.get("model") or model)
                text = str(data["choices"][0]["text"]) if data.get("choices") else text
                usage = data.get("usage") or {}
                cached = _ratio(usage.get("cached_tokens"), usage.get("prompt_tokens"))
                tokens = usage.get("completion_tokens")
                return RemoteAnswer(text, model, first_ms, cached, lane, tokens if isinstance(tokens, int) else None)
            elif name == "error":
                raise RemoteUnavailableError(f"gateway failed mid-stream: {data.get('error', data)}")
        return RemoteAnswer(text, model, first_ms, lane=lane)

    async def report(self, events: list[Event]) -> None:
        body = {"events": [{k: v for k, v in asdict(e).items() if v not in (None, "")} for e in events]}
        try:
            response = await self._client.post("/v1/events", json=body)
        except httpx.HTTPError as exc:
            raise RemoteUnavailableError(f"gateway {self.url}: {_describe(exc)}") from exc
        if response.status_code != 200:
            raise RemoteUnavailableError(f"gateway refused telemetry ({response.status_code}): {response.text[:200]}")

    async def aclose(self) -> None:
        await self._client.aclose()


def _body(request: CompletionRequest) -> dict[str, Any]:
    segments: dict[str, Any] = {"prefix": request.prefix, "suffix": request.suffix}
    if request.filepath:
        segments["filepath"] = request.filepath
    if request.snippets:
        segments["snippets"] = [{"filepath": s.filepath, "body": s.body} for s in request.snippets]
    body: dict[str, Any] = {"segments": segments, "mode": request.mode, "stream": True, "trigger": request.trigger}
    if request.background:
        body["background"] = True
    if request.language:
        body["language"] = request.language
    for field in ("session_id", "request_id", "max_tokens"):
        value = getattr(request, field)
        if value is not None:
            body[field] = value
    return body


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Server-Sent Events as (event name, JSON data)."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            try:
                yield name, json.loads(data)
            except ValueError as exc:
                raise RemoteUnavailableError(f"gateway sent an unreadable event: {data[:100]!r}") from exc
            name, data = "message", ""


def _cached_ratio(usage: Usage) -> float | None:
    return _ratio(usage.cached_tokens, usage.prompt_tokens)


def _ratio(part: Any, whole: Any) -> float | None:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or whole <= 0:
        return None
    return float(part) / float(whole)


def _retry_after_s(response: httpx.Response) -> float:
    """The wait a 429 asks for: its Retry-After header in seconds (1 if absent or unreadable)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
