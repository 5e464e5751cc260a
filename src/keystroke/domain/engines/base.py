"""The whole inference-backend contract, in one small module.

Everything above the engines (prompt assembly, the completion service, the transports) imports only this.
A backend streams `TokenEvent`s and ends with exactly one `DoneEvent`; it honours `GenerationRequest.cancel`
between tokens, applies `stop` after every token, and forces the first generated text to start with
`forced_prefix` when it `supports_forced_prefix` (token healing: the prompt's last partial token is removed
from the prompt and regenerated, so the model chooses how the boundary is tokenized).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "eos", "length", "cancelled"]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Deadline:
    """A moment on one clock, and that clock: whoever sets a deadline chooses the clock (a test, its manual
    one), and whoever checks it reads the same clock, so two clocks are never compared."""

    at: float
    clock: Clock = time.perf_counter

    def passed(self) -> bool:
        return self.clock() > self.at

    def remaining_s(self) -> float:
        return self.at - self.clock()


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers branch on these flags, never on the backend's type."""

    supports_fim: bool
    supports_kv_reuse: bool
    supports_forced_prefix: bool
    supports_ranking: bool = False
    supports_cancel: bool = True


@dataclass(frozen=True)
class ModelInfo:
    """Identity of the loaded model: what cache keys and profile detection need."""

    name: str
    source: str
    tokenizer_id: str
    n_ctx: int
    special_tokens: frozenset[str]


class CancelToken:
    """A thread-safe, one-way cancel flag with the reason it was raised."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason: str | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the cancelling thread) when the token is raised; at once if it already is."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def notify(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        """Run `callback` on `loop` when the token is raised, from whichever thread raises it (an engine's
        worker, say); nothing happens if the loop has closed by then."""

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(callback)

        self.on_cancel(wake)

    async def wait(self) -> None:
        """Return once the token is raised: an awaitable event, woken from any thread, without polling."""
        loop = asyncio.get_running_loop()
        raised: asyncio.Future[None] = loop.create_future()
        self.notify(loop, lambda: None if raised.done() else raised.set_result(None))
        await raised

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class Special:
    """A control token of the model's vocabulary (a FIM marker), spelled as the vocabulary spells it."""

    text: str


PromptPart = str | Special


@dataclass(frozen=True)
class Prompt:
    """A prompt as text parts and control tokens; user text is never parsed for control tokens."""

    parts: tuple[PromptPart, ...]

    def render(self) -> str:
        return "".join(p.text if isinstance(p, Special) else p for p in self.parts)


StopCheck = Callable[[str], bool]
"""Called with all text generated so far (after the forced prefix); True ends the generation."""


@dataclass(frozen=True)
class RankPlan:
    """Ask for more candidates than the greedy one, each scored with the text that follows it.

    `alternatives` more candidates branch from the greedy one at its first tokens. `accept` turns a
    candidate's raw text into what would be shown, or None to drop it; `contenders` keeps, of the distinct
    shown texts, those that can still win. When more than one remains, each gets `score` =
    log P(forced prefix + shown text + `continuation` | prompt); a lone contender is returned unscored. With
    `then_end` (FIM prompts, where the code after the cursor is in the prompt already) the score also has
    log P(the middle ends there), the probability of any of the request's stop tokens next: the model's own
    judgement that the text joins the code after it.
    """

    alternatives: int
    continuation: str
    accept: Callable[[str], str | None]
    contenders: Callable[[list[str]], list[str]]
    then_end: bool = False


@dataclass(frozen=True)
class Candidate:
    text: str
    score: float | None


BACKGROUND_PRIORITY = 2  # a prefetch: after all other work, and dropped when other work waits for its engine


def _no_checkpoint() -> None:
    """A generation's token boundary when no scheduler shares the CPU: nothing to do."""


@dataclass
class GenerationRequest:
    prompt: Prompt
    max_tokens: int
    forced_prefix: str = ""
    stop: StopCheck | None = None
    stop_tokens: tuple[str, ...] = ()
    cancel: CancelToken = field(default_factory=CancelToken)
    rank: RankPlan | None = None
    # whose KV state this prompt may reuse (the tenant's cache namespace); another owner's is never reused
    cache_owner: str = ""
    # engine queue order: lower first (inline 0, multi-line 1); a request not started by `queue_deadline`
    # is dropped unstarted, cancelled with reason "queue deadline"
    priority: int = 0
    queue_deadline: Deadline | None = None
    # what a fleet routes on for prefix affinity (tenant namespace + file); empty: no affinity
    route_key: str = ""
    # what the speculative-decoding rollout gate measures and decides on: "language/lane"
    speculation_key: str = ""
    # a generation paused for a more urgent one (another model's, `scheduler.py`) is dropped instead of
    # resumed once this deadline has passed; None: always resumed
    drop_deadline: Deadline | None = None
    # called by the engine at every token boundary: where the shared CPU scheduler may pause it (set by the
    # engine's worker; the default does nothing)
    checkpoint: Callable[[], None] = field(default=_no_checkpoint, compare=False, repr=False)


@dataclass(frozen=True)
class TokenEvent:
    """Newly decoded text; empty while a multi-byte character is still incomplete."""

    text: str


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    queue_ms: float
    prefill_ms: float
    decode_ms: float
    finish_reason: FinishReason
    cancel_reason: str | None = None
    candidates: tuple[Candidate, ...] = ()
    decoded_candidates: int = 1
    draft_rounds: int = 0  # speculative decoding: batches that verified a draft
    draft_accepted: int = 0  # draft tokens accepted in them


@dataclass(frozen=True)
class DoneEvent:
    stats: GenerationStats


GenerationEvent = TokenEvent | DoneEvent


class Tokenizer(Protocol):
    """Token counting with the model's own tokenizer, for prompt budgets."""

    def count_tokens(self, text: str) -> int: ...

    def tail_start(self, text: str, max_tokens: int) -> int:
        """Smallest index i (on a token boundary) such that text[i:] fits in `max_tokens` tokens."""
        ...

    def head_end(self, text: str, max_tokens: int) -> int:
        """Largest index i (on a token boundary) such that text[:i] fits in `max_tokens` tokens."""
        ...


@runtime_checkable
class InferenceBackend(Protocol):
    info: ModelInfo
    capabilities: Capabilities
    tokenizer: Tokenizer

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        """Stream the generation; closing the iterator early cancels it."""
        ...

    async def aclose(self) -> None: ...
