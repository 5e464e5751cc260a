"""keystroke's own client of a gateway: the language server's remote lane when it talks to `keystroke serve`.

`GatewayLane` implements the services' `RemoteLane` over HTTP with the gateway's wire protocol (`wire.py`, the
same models the routes use): it learns the model and the organisation's policy (`GET /v1/models`,
`GET /v1/policy`), streams `POST /v1/completions` and returns at the `first_action` event for a one-line
request (leaving the stream closes it, and the gateway stops decoding), and delivers telemetry
(`POST /v1/events`). After a 429 it does not ask again until the gateway's Retry-After has passed (the local
lane answers meanwhile), so an overloaded gateway is not pressed harder. Whatever goes wrong on the way
(down, refused, timed out, an answer that is not the protocol) is a `RemoteUnavailableError` saying what.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
from pydantic import ValidationError

from keystroke.domain.engines.base import Tokenizer
from keystroke.domain.sse import read_events
from keystroke.domain.telemetry.events import Event
from keystroke.errors import RemoteCause, RemoteUnavailableError, invalid_request
from keystroke.services.preparation import PreparedRequest
from keystroke.services.remote_lane import RemoteAnswer, RemotePolicy, cached_ratio
from keystroke.transports.http.wire import (
    CompletionBody,
    CompletionResponse,
    DeltaEvent,
    ErrorBody,
    EventBatch,
    EventBody,
    FirstActionEvent,
    ModelList,
    Policy,
    StreamEvent,
    decode_event,
)


class GatewayLane:
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
            card = ModelList.model_validate_json(response.content).data[0]
            self._model, self._tokenizer_id = card.id, card.tokenizer_id
            response = await self._client.get("/v1/policy")
            response.raise_for_status()
            policy = Policy.model_validate_json(response.content)
            return RemotePolicy(tuple(policy.exclude), tuple(policy.patterns))
        except (httpx.HTTPError, ValidationError, IndexError) as exc:
            message = f"gateway {self.url} did not describe itself: {_describe(exc)}"
            raise RemoteUnavailableError(message, _cause(exc)) from exc

    async def complete(self, prepared: PreparedRequest) -> RemoteAnswer:
        """Sends the prepared (redacted) request; the answer is revealed here, in its vault."""
        request = prepared.request
        wait = self._retry_at - self._clock()
        if wait > 0:
            raise RemoteUnavailableError(f"gateway overloaded; asking again in {wait:.1f} s", "overloaded")
        try:
            body = CompletionBody.of(request).to_json()
        except ValidationError as exc:  # e.g. a session id (a long URI) over the protocol's limit
            error = invalid_request(exc.errors())
            raise RemoteUnavailableError(f"the request does not fit the gateway's protocol: {error.message}") from exc
        try:
            async with self._client.stream("POST", "/v1/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    if response.status_code == 429:
                        self._retry_at = self._clock() + _retry_after_s(response)
                    message = f"gateway answered {response.status_code}: {response.text[:200]}"
                    raise RemoteUnavailableError(message, _status_cause(response.status_code))
                answer = await self._read(_stream_events(response), request.mode == "inline" and not request.background)
        except httpx.HTTPError as exc:
            raise RemoteUnavailableError(f"gateway {self.url}: {_describe(exc)}", _cause(exc)) from exc
        return RemoteAnswer(
            prepared.reveal(answer.text), answer.model, answer.first_action_ms, answer.cached_ratio, answer.lane,
            answer.completion_tokens,
        )  # fmt: skip

    async def _read(self, events: AsyncIterator[StreamEvent], inline: bool) -> RemoteAnswer:
        text, first_ms, lane, model = "", None, "", self._model
        async for event in events:
            if isinstance(event, FirstActionEvent):
                text, first_ms, lane, model = event.text, event.first_action_ms, event.lane, event.model or model
                if inline:
                    break  # leaving the stream closes it: the gateway stops decoding
            elif isinstance(event, DeltaEvent):
                text += event.text
            else:
                usage = event.usage
                text = event.choices[0].text if event.choices else text
                cached = cached_ratio(usage.cached_tokens, usage.prompt_tokens)
                return RemoteAnswer(text, event.model or model, first_ms, cached, event.lane, usage.completion_tokens)
        return RemoteAnswer(text, model, first_ms, lane=lane)

    async def report(self, events: list[Event]) -> None:
        try:
            batch = EventBatch(events=[EventBody.of(event) for event in events])
            response = await self._client.post("/v1/events", json=batch.model_dump(exclude_defaults=True))
        except ValidationError as exc:
            raise RemoteUnavailableError(f"telemetry events out of the protocol: {exc.error_count()} problems") from exc
        except httpx.HTTPError as exc:
            raise RemoteUnavailableError(f"gateway {self.url}: {_describe(exc)}", _cause(exc)) from exc
        if response.status_code != 200:
            message = f"gateway refused telemetry ({response.status_code}): {response.text[:200]}"
            raise RemoteUnavailableError(message, _status_cause(response.status_code))

    async def aclose(self) -> None:
        await self._client.aclose()


async def _stream_events(response: httpx.Response) -> AsyncIterator[StreamEvent]:
    """The completion stream's events, typed; an `error` event or unreadable data ends it with an error."""
    async for raw in read_events(response.aiter_lines()):
        try:
            event = decode_event(raw)
        except ValueError as exc:
            raise RemoteUnavailableError(f"gateway sent an {exc}") from exc
        if isinstance(event, ErrorBody):
            raise RemoteUnavailableError(f"gateway failed mid-stream: {event.error.message}")
        if isinstance(event, FirstActionEvent | DeltaEvent | CompletionResponse):
            yield event


def _retry_after_s(response: httpx.Response) -> float:
    """The wait a 429 asks for: its Retry-After header in seconds (1 if absent or unreadable)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _cause(exc: BaseException) -> RemoteCause:
    """Why the gateway could not answer, from what went wrong on the way (for the editor's status)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return _status_cause(exc.response.status_code)
    return "unreachable" if isinstance(exc, httpx.TransportError) else "failed"


def _status_cause(status: int) -> RemoteCause:
    if status in (401, 403):
        return "refused"
    return "overloaded" if status == 429 else "failed"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
