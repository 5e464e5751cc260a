"""Remote engines: a fleet of OpenAI-compatible replicas (vLLM, SGLang, TGI, llama-server, llama_cpp.server).

A request streams from `POST /v1/completions` (`stream: true`, greedy) of one replica, chosen by the routing
policy (`routing.py`: prefix affinity on tenant + file by default). keystroke renders the prompt itself with
the model's FIM profile, so any engine that reads control tokens in the prompt text does FIM; control-token
spellings inside user text are broken with a zero-width space, so code cannot inject them.

Failure handling, per request:
- a replica that refuses the connection, answers an error status, breaks the stream, sends nothing for
  `first_token_timeout_s` before its first piece (the prompt's evaluation) or for `stall_timeout_s` between
  pieces is marked unhealthy and the request fails over to the next replica in the policy's order;
  the text already streamed is appended to the prompt, so the next replica continues where the first stopped
  and the editor sees one uninterrupted answer;
- the cancel token (superseded request, closed client, the service's deadline) wakes the reader the moment
  it is raised (no polling), which closes the HTTP stream, and the engine aborts the generation;
- the stop check runs after every streamed piece; a stop closes the stream too (no decode is wasted on text
  that would be cut anyway).
A health check (`GET /v1/models`, every `health_interval_s`) brings failed replicas back.

One `httpx.AsyncClient` per event loop pools connections (HTTP/2 where the server offers it over TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from keystroke.domain.engines.base import (
    Capabilities,
    DoneEvent,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    GenerationStats,
    ModelInfo,
    Prompt,
    Special,
    TokenEvent,
    Tokenizer,
)
from keystroke.domain.engines.routing import Policy
from keystroke.domain.sse import read_events
from keystroke.errors import EngineError, EngineUnavailableError

_CANCELLED = "\x00cancelled"  # put in a stream's line queue when its request is cancelled: no data line reads so
HEALTH_FAILURES = 2  # consecutive failed health checks that mark an idle replica down
ZERO_WIDTH_SPACE = "\u200b"
_KEYS_REMEMBERED = 10_000


@dataclass
class Replica:
    url: str
    healthy: bool = True
    in_flight: int = 0
    served: int = 0
    failures: int = 0
    last_error: str = ""


@dataclass
class FleetCounters:
    requests: int = 0
    affinity_hits: int = 0  # routed to the replica that served the same key last time (its prefix cache)
    failovers: int = 0
    failover_ms: list[float] = field(default_factory=list)  # from the failure to the next replica's first piece
    aborted: int = 0  # streams closed early: cancelled, stopped, or past the deadline


class ReplicaFailedError(Exception):
    """One replica could not serve (refused, error status, broken or stalled stream)."""


@dataclass(frozen=True)
class RemoteOptions:
    model: str
    api_key: str | None = None
    connect_timeout_s: float = 1.0
    stall_timeout_s: float = 3.0
    first_token_timeout_s: float = 10.0
    health_interval_s: float = 2.0
    n_ctx: int = 4096


class RemoteBackend:
    def __init__(
        self,
        urls: Sequence[str],
        policy: Policy,
        tokenizer: Tokenizer,
        options: RemoteOptions,
        vocabulary: tuple[str, frozenset[str]],
    ) -> None:
        """`vocabulary`: the tokenizer's fingerprint and control tokens (what cache keys and FIM detection need)."""
        tokenizer_id, special = vocabulary
        self.replicas = [Replica(url.rstrip("/")) for url in urls]
        self.policy = policy
        self.tokenizer = tokenizer
        self.options = options
        self.counters = FleetCounters()
        self._special = special
        self.info = ModelInfo(
            name=options.model,
            source=", ".join(r.url for r in self.replicas),
            tokenizer_id=tokenizer_id,
            n_ctx=options.n_ctx,
            special_tokens=special,
        )
        self.capabilities = Capabilities(
            supports_fim=True, supports_kv_reuse=True, supports_forced_prefix=False, supports_ranking=False
        )
        self._last_replica: OrderedDict[str, int] = OrderedDict()
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._health: asyncio.Task[None] | None = None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        started = time.perf_counter()
        if request.queue_deadline is not None and request.queue_deadline.passed():
            request.cancel.cancel("queue deadline")
        client = self._ensure_client()
        prompt = self.render(request.prompt)
        order = self._route(request.route_key)
        text, produced, finish = "", 0, "cancelled"
        first_piece_ms: float | None = None
        failed_at: float | None = None
        errors: list[str] = []
        for index in order:
            if request.cancel.cancelled:
                break
            replica = self.replicas[index]
            replica.in_flight += 1
            stream = self._stream(client, replica, prompt + text, request, produced)
            try:
                async for piece, reason in stream:
                    if failed_at is not None:
                        self.counters.failover_ms.append((time.perf_counter() - failed_at) * 1000)
                        failed_at = None
                    finish = reason
                    if piece:
                        first_piece_ms = first_piece_ms or (time.perf_counter() - started) * 1000
                        text += piece
                        produced += 1
                        yield TokenEvent(piece)
                        if request.stop is not None and request.stop(text):
                            finish = "stop"
                    if finish != "more":
                        break
                replica.served += 1
                self._remember(request.route_key, index)
                break
            except ReplicaFailedError as exc:
                replica.healthy, replica.failures, replica.last_error = False, replica.failures + 1, str(exc)
                errors.append(f"{replica.url}: {exc}")
                self.counters.failovers += 1
                failed_at = time.perf_counter()
            finally:
                await stream.aclose()  # closes the HTTP stream: the engine stops generating
                replica.in_flight -= 1
        else:
            if not request.cancel.cancelled:
                raise EngineUnavailableError("no replica of the fleet could answer: " + "; ".join(errors))
        if finish in ("stop", "cancelled"):
            self.counters.aborted += 1
        yield DoneEvent(self._stats(request, prompt, produced, started, first_piece_ms, finish))

    def render(self, prompt: Prompt) -> str:
        """The prompt as text; control-token spellings inside user text are broken so they stay text."""
        parts = []
        for part in prompt.parts:
            if isinstance(part, Special):
                parts.append(part.text)
            else:
                for token in self._special:
                    if token in part:
                        part = part.replace(token, token[0] + ZERO_WIDTH_SPACE + token[1:])
                parts.append(part)
        return "".join(parts)

    async def aclose(self) -> None:
        if self._health is not None:
            self._health.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._health
        if self._client is not None:
            with contextlib.suppress(RuntimeError):
                await self._client.aclose()
                await asyncio.sleep(0)  # closed transports finish closing on the loop's next turn
        self._client, self._health = None, None

    # -- one replica -------------------------------------------------------------------------------------

    async def _stream(
        self, client: httpx.AsyncClient, replica: Replica, prompt: str, request: GenerationRequest, produced: int
    ) -> AsyncGenerator[tuple[str, str], None]:
        """(piece, "more") per streamed piece, ending with ("", finish) or (piece, finish); raises
        ReplicaFailedError when the replica cannot serve. Closing it early closes the HTTP stream."""
        payload: dict[str, Any] = {
            "model": self.options.model,
            "prompt": prompt,
            "max_tokens": max(1, request.max_tokens - produced),
            "temperature": 0.0,
            "stream": True,
        }
        if request.stop_tokens:
            payload["stop"] = list(request.stop_tokens)
        headers = {"Authorization": f"Bearer {self.options.api_key}"} if self.options.api_key else {}
        lines: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        request.cancel.notify(asyncio.get_running_loop(), lambda: lines.put_nowait(_CANCELLED))
        url = f"{replica.url}/v1/completions"
        exchange = asyncio.ensure_future(_exchange(client, url, payload, headers, lines))
        try:
            limit = self.options.first_token_timeout_s  # a cold prompt is silent while the engine evaluates it
            while True:
                line = await self._next_line(lines, request, limit)
                limit = self.options.stall_timeout_s
                if line is None:  # cancelled
                    yield "", "cancelled"
                    return
                piece, finish = _parse(line)
                if finish == "done":
                    yield "", "eos"
                    return
                yield piece, finish
                if finish != "more":
                    return
        finally:
            exchange.cancel()  # closes the connection: the engine stops generating
            await asyncio.gather(exchange, return_exceptions=True)

    async def _next_line(
        self, lines: asyncio.Queue[str | BaseException | None], request: GenerationRequest, limit_s: float
    ) -> str | None:
        """The next data line within `limit_s`; None once the request is cancelled (its token puts a marker
        in the queue); ReplicaFailedError on a stall or a broken stream."""
        if request.cancel.cancelled:
            return None
        try:
            item = await asyncio.wait_for(lines.get(), limit_s)
        except TimeoutError:
            raise ReplicaFailedError(f"sent nothing for {limit_s:.1f} s") from None
        if item is _CANCELLED or request.cancel.cancelled:
            return None
        if isinstance(item, ReplicaFailedError):
            raise item
        if isinstance(item, BaseException):
            raise ReplicaFailedError(f"the stream broke: {type(item).__name__}: {item}") from item
        if item is None:
            raise ReplicaFailedError("the stream ended without [DONE]")
        return item

    # -- fleet bookkeeping -------------------------------------------------------------------------------

    def _route(self, key: str) -> list[int]:
        loads = [r.in_flight for r in self.replicas]
        order = self.policy.route(key, loads, [r.healthy for r in self.replicas])
        self.counters.requests += 1
        if key and self._last_replica.get(key) == order[0]:
            self.counters.affinity_hits += 1
        return order

    def _remember(self, key: str, index: int) -> None:
        if not key:
            return
        self._last_replica[key] = index
        self._last_replica.move_to_end(key)
        while len(self._last_replica) > _KEYS_REMEMBERED:
            self._last_replica.popitem(last=False)

    def _stats(
        self,
        request: GenerationRequest,
        prompt: str,
        produced: int,
        started: float,
        first_piece_ms: float | None,
        finish: str,
    ) -> GenerationStats:
        reason: FinishReason = finish if finish in ("stop", "eos", "length") else "cancelled"  # type: ignore[assignment]
        elapsed = (time.perf_counter() - started) * 1000
        return GenerationStats(
            prompt_tokens=self.tokenizer.count_tokens(prompt),
            cached_tokens=0,  # the engine's prefix cache is not reported by the OpenAI protocol
            completion_tokens=produced,
            queue_ms=0.0,
            prefill_ms=first_piece_ms or elapsed,
            decode_ms=elapsed - (first_piece_ms or elapsed),
            finish_reason=reason,
            cancel_reason=request.cancel.reason if reason == "cancelled" else None,
        )

    def _ensure_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            timeout = httpx.Timeout(connect=self.options.connect_timeout_s, read=None, write=5.0, pool=5.0)
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(timeout=timeout, limits=limits, http2=_http2_available())
            self._client_loop = loop
            self._health = loop.create_task(self._check_health(self._client))
        return self._client

    async def _check_health(self, client: httpx.AsyncClient) -> None:
        """Ask idle replicas `GET /v1/models`; one answering 200 is healthy again, one failing twice in a row
        is not. A replica with requests in flight is judged by those (a busy single-process engine may answer
        a health check late without being down)."""
        failed: dict[str, int] = {}
        while True:
            await asyncio.sleep(self.options.health_interval_s)
            for replica in self.replicas:
                if replica.in_flight:
                    continue
                try:
                    answer = await client.get(f"{replica.url}/v1/models", timeout=self.options.stall_timeout_s)
                    ok = answer.status_code == 200
                except httpx.HTTPError as exc:
                    ok, replica.last_error = False, f"health check: {type(exc).__name__}"
                failed[replica.url] = 0 if ok else failed.get(replica.url, 0) + 1
                if ok or failed[replica.url] >= HEALTH_FAILURES:
                    replica.healthy = ok


async def _exchange(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    lines: asyncio.Queue[str | BaseException | None],
) -> None:
    """Send the request and feed the answer's `data:` lines to the queue, then None (the end); an error
    status or a broken connection is put on the queue instead. Runs as its own task, so the reader can
    give up (cancel, stall) while this waits on the network, even for the response headers."""
    try:
        async with client.stream("POST", url, json=payload, headers=headers) as answer:
            if answer.status_code != 200:
                body = (await answer.aread())[:200].decode("utf-8", "replace")
                lines.put_nowait(ReplicaFailedError(f"answered {answer.status_code}: {body}"))
                return
            async for event in read_events(answer.aiter_lines()):
                lines.put_nowait(event.data.strip())
        lines.put_nowait(None)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        lines.put_nowait(exc)


def _parse(data: str) -> tuple[str, str]:
    """(text, finish) of one streamed chunk: finish is "more", "eos", "length" or "done" ([DONE])."""
    if data == "[DONE]":
        return "", "done"
    try:
        chunk = json.loads(data)
        choice = chunk["choices"][0] if chunk.get("choices") else {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ReplicaFailedError(f"sent an unreadable chunk: {data[:80]!r}") from exc
    if "error" in chunk:
        raise ReplicaFailedError(f"reported an error: {str(chunk['error'])[:200]}")
    reason = choice.get("finish_reason")
    finish = "more" if reason is None else ("length" if reason == "length" else "eos")
    return str(choice.get("text") or ""), finish


def _http2_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("h2") is not None


def fetch_model_id(url: str, api_key: str | None, timeout_s: float = 5.0) -> str:
    """The first model a replica serves (`GET /v1/models`), for when the configuration names none."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        answer = httpx.get(f"{url.rstrip('/')}/v1/models", headers=headers, timeout=timeout_s)
        answer.raise_for_status()
        return str(answer.json()["data"][0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise EngineError(
            f"could not ask {url} for its model ({type(exc).__name__}: {exc}); is the engine running? "
            "Name the model with --remote-model to skip this question"
        ) from exc
