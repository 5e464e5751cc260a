"""The completion service's request, result and streaming event types (shared by every transport).

`Usage`, `Timings` and `ContextUse` go on the wire as they are (`transports/http/wire.py` uses them as fields of
the response), so their field descriptions are the API's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from keystroke.domain.context.items import SourceReport
from keystroke.domain.engines.base import FinishReason
from keystroke.domain.postprocess.modes import RequestedMode
from keystroke.domain.postprocess.shaping import Mode
from keystroke.domain.prompt.assembly import Snippet

Trigger = Literal["automatic", "invoked"]

if TYPE_CHECKING:
    from keystroke.services.context import ContextOutcome


Lane = Literal["inline", "multiline", "invoked"]  # invoked: the user asked, whatever the mode


@dataclass(frozen=True)
class CompletionRequest:
    prefix: str
    suffix: str = ""
    language: str | None = None
    filepath: str | None = None
    snippets: tuple[Snippet, ...] = ()
    mode: RequestedMode = "auto"
    max_tokens: int | None = None
    session_id: str | None = None
    request_id: str | None = None
    # automatic: the editor asks as the user types (greedy, the first line as soon as it exists);
    # invoked: the user asked (the server may spend longer, e.g. rank alternatives for a fresh line)
    trigger: Trigger = "invoked"
    # a prefetch (the editor's guess at the next request): the lowest priority, dropped at a token boundary
    # whenever other work waits for the engine
    background: bool = False


@dataclass(frozen=True)
class Usage:
    """Tokens of the prompt, of it served from the KV cache, decoded in all, and candidate lines decoded."""

    prompt_tokens: int
    cached_tokens: Annotated[int, Field(description="Prompt tokens served from the engine's KV cache.")]
    completion_tokens: Annotated[int, Field(description="Tokens decoded, alternatives included.")]
    candidates: Annotated[int, Field(description="Candidate lines decoded: 1, or more when the answer was ranked.")] = 1


@dataclass(frozen=True)
class Timings:
    """Milliseconds. queue, prompt_build, prefill and decode are stage durations; first_token,
    first_action and total are measured from the moment the service received the request."""

    queue_ms: float
    prompt_build_ms: float
    prefill_ms: float
    decode_ms: float
    first_token_ms: float | None
    first_action_ms: float | None
    total_ms: float


@dataclass(frozen=True)
class ContextUse:
    """What context went into the prompt: snippets, and, when the workspace was searched, how."""

    snippets: Annotated[int, Field(description="Context snippets placed in the prompt.")]
    depth: Annotated[
        Literal["light", "refresh", "full"] | None,
        Field(description="How deep the workspace was searched; null when the editor sent the snippets or there "
              "is no workspace."),
    ] = None  # fmt: skip
    ms: Annotated[float, Field(description="Time spent collecting context.")] = 0.0
    sources: Annotated[
        tuple[SourceReport, ...], Field(description="Each context source that ran: its time, items and status.")
    ] = ()

    @classmethod
    def of(cls, outcome: ContextOutcome) -> ContextUse:
        depth = outcome.depth.name.lower() if outcome.depth is not None else None
        return cls(len(outcome.snippets), depth, outcome.ms, outcome.reports)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CompletionResult:
    id: str
    model: str
    mode: Mode
    text: str
    finish_reason: FinishReason
    abstain_reason: str | None
    usage: Usage
    timings: Timings
    context: ContextUse = ContextUse(0)
    lane: Lane = "inline"  # which lane (and so which model) answered


@dataclass(frozen=True)
class FirstAction:
    """The first complete line, sent the moment it exists."""

    id: str
    text: str
    at_ms: float
    lane: Lane = "inline"
    model: str = ""  # the lane's model, so a client that stops reading here still knows who answered


@dataclass(frozen=True)
class Delta:
    """Further complete lines of a multi-line completion."""

    text: str


@dataclass(frozen=True)
class Finished:
    result: CompletionResult


CompletionEvent = FirstAction | Delta | Finished
