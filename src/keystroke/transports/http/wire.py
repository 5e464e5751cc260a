"""The gateway's wire protocol, for both ends: the routes (`app.py`, `telemetry.py`) and keystroke's own
client of them (`client.py`, the language server's gateway lane) read and write these models, so the two
cannot drift apart.

The completion request and response are Tabby-compatible. Requests are validated strictly (a number is not
a string, `"5"` is not an integer); unknown top-level fields that Tabby clients send (`user`, `temperature`,
`seed`, `debug_options`) are accepted and ignored. Tabby's context fields (`declarations`,
`relevant_snippets_from_changed_files`, `relevant_snippets_from_recently_opened_files`) and keystroke's
`snippets` all become prompt context, in that order. A streamed answer is Server-Sent Events (`domain/sse.py`):
`first_action`, `delta`..., then `done` with the whole response, or `error`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keystroke.domain.prompt.assembly import Snippet
from keystroke.domain.sse import SseEvent, frame
from keystroke.domain.telemetry.events import Event
from keystroke.services.types import (
    CompletionEvent,
    CompletionRequest,
    CompletionResult,
    ContextUse,
    Delta,
    FirstAction,
    Timings,
    Usage,
)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class SnippetBody(_Strict):
    filepath: str = Field(max_length=4096)
    body: str
    score: float | None = None


class SegmentsBody(_Strict):
    prefix: str = Field(description="Code before the cursor.")
    suffix: str | None = Field(None, description="Code after the cursor.")
    filepath: str | None = Field(None, max_length=4096, description="Path of the file, relative to its project.")
    git_url: str | None = Field(None, max_length=4096)
    declarations: list[SnippetBody] | None = Field(None, description="Tabby: declarations of symbols in use.")
    relevant_snippets_from_changed_files: list[SnippetBody] | None = None
    relevant_snippets_from_recently_opened_files: list[SnippetBody] | None = None
    snippets: list[SnippetBody] | None = Field(None, description="Context snippets ranked by the editor.")
    clipboard: str | None = None


class CompletionBody(_Strict):
    language: str | None = Field(None, max_length=64, description="VS Code language id, e.g. 'python'.")
    segments: SegmentsBody
    mode: Literal["inline", "multiline", "auto"] = Field(
        "auto", description="inline: one line; multiline: a block; auto: chosen from the cursor position."
    )
    max_tokens: int | None = Field(None, ge=1, description="Token cap; default depends on the mode.")
    stream: bool = Field(False, description="Send Server-Sent Events: first_action, delta..., done.")
    session_id: str | None = Field(
        None, max_length=256, description="A newer request with the same session_id cancels this one."
    )
    request_id: str | None = Field(None, max_length=256, description="Echoed as the response id.")
    trigger: Literal["automatic", "invoked"] = Field(
        "invoked",
        description="automatic: asked while the user types (greedy, fastest first action); invoked: the user "
        "asked (a fresh line may be ranked among alternatives, which takes longer).",
    )
    background: bool = Field(
        False,
        description="A prefetch (the editor's guess at what the user will want next): computed after all other "
        "work, and dropped at a token boundary whenever other work waits.",
    )

    @classmethod
    def of(cls, request: CompletionRequest, *, stream: bool = True) -> CompletionBody:
        """The body that asks a gateway for `request` (what `to_request` reads back)."""
        snippets = [SnippetBody(filepath=s.filepath, body=s.body) for s in request.snippets]
        segments = SegmentsBody(
            prefix=request.prefix, suffix=request.suffix, filepath=request.filepath, snippets=snippets or None
        )
        return cls(
            language=request.language,
            segments=segments,
            mode=request.mode,
            max_tokens=request.max_tokens,
            stream=stream,
            session_id=request.session_id,
            request_id=request.request_id,
            trigger=request.trigger,
            background=request.background,
        )

    def to_json(self) -> dict[str, Any]:
        """The body as sent: fields at their default left out."""
        return self.model_dump(exclude_defaults=True)

    def to_request(self) -> CompletionRequest:
        segments = self.segments
        groups = (
            segments.declarations,
            segments.relevant_snippets_from_changed_files,
            segments.relevant_snippets_from_recently_opened_files,
            segments.snippets,
        )
        snippets = tuple(Snippet(s.filepath, s.body) for group in groups for s in group or ())
        return CompletionRequest(
            prefix=segments.prefix,
            suffix=segments.suffix or "",
            language=self.language,
            filepath=segments.filepath,
            snippets=snippets,
            mode=self.mode,
            max_tokens=self.max_tokens,
            session_id=self.session_id,
            request_id=self.request_id,
            trigger=self.trigger,
            background=self.background,
        )


class ChoiceBody(BaseModel):
    index: int
    text: str
    finish_reason: str


class CompletionResponse(BaseModel):
    id: str
    model: str = Field(description="The model that answered: the one configured for the request's lane.")
    mode: Literal["inline", "multiline"]
    lane: Literal["inline", "multiline", "invoked"] = Field(
        description="The lane that answered: 'invoked' for an explicit request, else the mode."
    )
    choices: list[ChoiceBody]
    abstain_reason: str | None = Field(description="Why the text is empty, when it is.")
    usage: Usage
    timings: Timings
    context: ContextUse

    @classmethod
    def of(cls, result: CompletionResult) -> CompletionResponse:
        return cls(
            id=result.id,
            model=result.model,
            mode=result.mode,
            lane=result.lane,
            choices=[ChoiceBody(index=0, text=result.text, finish_reason=result.finish_reason)],
            abstain_reason=result.abstain_reason,
            usage=result.usage,
            timings=result.timings,
            context=result.context,
        )


class FirstActionEvent(BaseModel):
    """`event: first_action`: the first complete line, the moment it exists."""

    id: str
    text: str
    first_action_ms: float | None = None
    lane: str = ""
    model: str = ""


class DeltaEvent(BaseModel):
    """`event: delta`: a further complete line of a multi-line answer."""

    text: str


StreamEvent = FirstActionEvent | DeltaEvent | CompletionResponse  # `done` carries the whole response


def encode_event(event: CompletionEvent) -> bytes:
    """One event of the completion stream as Server-Sent Events: first_action, delta or done."""
    if isinstance(event, FirstAction):
        first = FirstActionEvent(id=event.id, text=event.text, first_action_ms=event.at_ms, lane=event.lane,
                                 model=event.model)  # fmt: skip
        return _framed("first_action", first)
    if isinstance(event, Delta):
        return _framed("delta", DeltaEvent(text=event.text))
    return _framed("done", CompletionResponse.of(event.result))


def encode_error(detail: ErrorDetail) -> bytes:
    """`event: error`: the stream failed after it started (the status line was already sent)."""
    return _framed("error", ErrorBody(error=detail))


def decode_event(event: SseEvent) -> StreamEvent | ErrorBody | None:
    """A completion stream's event as its model (None for an event this client does not know); ValueError
    when its data is not what the protocol says."""
    kinds: dict[str, type[BaseModel]] = {
        "first_action": FirstActionEvent,
        "delta": DeltaEvent,
        "done": CompletionResponse,
        "error": ErrorBody,
    }
    kind = kinds.get(event.name)
    if kind is None:
        return None
    try:
        decoded = kind.model_validate_json(event.data)
    except ValidationError as exc:
        raise ValueError(f"unreadable {event.name} event: {event.data[:100]!r}") from exc
    assert isinstance(decoded, FirstActionEvent | DeltaEvent | CompletionResponse | ErrorBody)
    return decoded


def _framed(name: str, model: BaseModel) -> bytes:
    return frame(json.dumps(model.model_dump(), ensure_ascii=False), name)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    source: str
    profile: str
    fim: bool
    n_ctx: int
    tokenizer_id: str
    lanes: list[Literal["inline", "multiline", "invoked"]] = Field(
        description="The lanes this model answers (a model per lane: `lanes` in the configuration)."
    )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    profile: str


class ErrorDetail(BaseModel):
    type: str
    message: str
    field: str | None = None
    retry_after_ms: float | None = Field(None, description="With 429: when a retry may be admitted.")


class Policy(BaseModel):
    """The organisation's privacy policy: what an editor must keep from upload (the gateway enforces it too)."""

    exclude: list[str] = Field(description="Exclusion globs (.gitignore syntax) on top of the defaults.")
    patterns: list[str] = Field(description="Extra secret patterns (Python regexes) on top of the detectors.")
    redact: bool = Field(description="Whether the gateway redacts secrets before the engine.")


class AuditList(BaseModel):
    """The caller's tenant's audit records, newest first; code fields only where the tenant retains code."""

    tenant: str
    data: list[dict[str, Any]]


class UsageTotals(BaseModel):
    """The caller's tenant's running totals since the gateway started."""

    tenant: str
    requests: int = 0
    shown: int = Field(0, description="Requests answered with a suggestion.")
    prompt_tokens: int = 0
    cached_tokens: int = Field(0, description="Prompt tokens served from the engine's KV cache.")
    decoded_tokens: int = Field(0, description="Tokens the engine generated, shown or not.")
    unshown_decoded_tokens: int = Field(0, description="Tokens generated for requests that showed nothing.")
    draft_rounds: int = Field(0, description="Speculative decoding: draft verifications.")
    draft_accepted: int = Field(0, description="Speculative decoding: draft tokens accepted.")


class ErrorBody(BaseModel):
    error: ErrorDetail


_ID = r"^[A-Za-z0-9_.:-]*$"  # ids and lane names: no room for code in telemetry


class EventBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    kind: Literal["shown", "abstained", "stale", "accepted", "dismissed", "typed_over", "retained"]
    suggestion_id: str = Field("", max_length=64, pattern=_ID)
    lane: str = Field("", max_length=32, pattern=_ID)
    language: str = Field("", max_length=32, pattern=_ID)
    chars: int = Field(0, ge=0, le=1_000_000)
    latency_ms: float | None = Field(None, ge=0, le=3_600_000)
    horizon_s: float | None = Field(None, ge=0, le=86_400)
    retained: int | None = Field(None, ge=0, le=1_000_000)

    @classmethod
    def of(cls, event: Event) -> EventBody:
        """An editor's event as sent (ValidationError if it breaks the protocol's limits)."""
        return cls.model_validate({k: v for k, v in asdict(event).items() if v is not None})

    @model_validator(mode="after")
    def _retained_within_accepted(self) -> EventBody:
        if self.retained is not None and self.retained > self.chars:
            raise ValueError(f"retained ({self.retained}) is more than the characters accepted ({self.chars})")
        return self


class EventBatch(BaseModel):
    """Telemetry from an editor: metadata only (ids, lanes, lengths, timings); unknown fields are refused."""

    model_config = ConfigDict(strict=True, extra="forbid")

    events: list[EventBody] = Field(max_length=1000, description="At most 1,000 events per request.")


class EventsAccepted(BaseModel):
    tenant: str
    accepted: int


class TelemetryRates(BaseModel):
    tenant: str
    shown: int
    eligible: int
    accepted: int
    dismissed: int
    typed_over: int
    abstained: int
    acceptance_rate: float | None
    shown_rate: float | None
    abstain_rate: float | None
    retained_rate: dict[str, float | None]
