"""The remote lane: the model's suggestion, from a gateway over HTTP or from the engine in-process.

One small interface (`RemoteLane`) with two implementations, so the editor service does not know which it has:
- `GatewayLane` (`transports/http/client.py`) streams `POST /v1/completions` (Server-Sent Events) and returns
  at the `first_action` event for a one-line request; cancelling the call closes the HTTP stream, and the
  gateway stops decoding;
- `EmbeddedLane` runs the completion service in this process (`keystroke lsp --embedded`); cancelling the
  call closes the service's stream, and the engine stops decoding within a token.

Errors a user can act on (gateway down, refused, timed out, answered garbage) become `RemoteUnavailableError`
with what happened; the editor service then answers from the local lane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from keystroke.domain.engines.base import Tokenizer
from keystroke.domain.privacy.tenants import LOCAL, Tenant
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import EngineError, KeystrokeError, OverloadedError, RemoteCause, RemoteUnavailableError
from keystroke.services.completion import CompletionService
from keystroke.services.preparation import PreparedRequest
from keystroke.services.types import Delta, Finished, FirstAction

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

    async def complete(self, prepared: PreparedRequest) -> RemoteAnswer:
        """The answer to a request prepared on this side (`preparation.py`), revealed in its vault."""
        ...

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

    async def complete(self, prepared: PreparedRequest) -> RemoteAnswer:
        """The answer, read to its end: a one-line request's generation stops at the end of its first line
        anyway, and the end carries the prompt's KV-cache share. The service takes the request as prepared
        and reveals what it shows, so nothing is redacted or revealed twice."""
        text, first_ms, cached, lane, model, tokens = "", None, None, "", self.model, None
        try:
            stream = self.service.stream(prepared, self.tenant)
        except KeystrokeError as exc:  # a request the service refuses (too large, overloaded): local lane
            cause: RemoteCause = "overloaded" if isinstance(exc, OverloadedError) else "failed"
            raise RemoteUnavailableError(f"the engine refused the request: {exc}", cause) from exc
        try:
            async for event in stream:
                if isinstance(event, FirstAction):
                    text, first_ms = event.text, event.at_ms
                elif isinstance(event, Delta):
                    text += event.text
                elif isinstance(event, Finished):
                    usage = event.result.usage
                    text, cached = event.result.text, cached_ratio(usage.cached_tokens, usage.prompt_tokens)
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


def cached_ratio(cached_tokens: int, prompt_tokens: int) -> float | None:
    """The share of a prompt's tokens the engine had in its KV cache (None for an empty prompt)."""
    return cached_tokens / prompt_tokens if prompt_tokens > 0 else None
