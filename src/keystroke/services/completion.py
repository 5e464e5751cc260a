"""The completion service: one request in, a First Action (and maybe more lines) out, with timings.

The gateway, the CLI, the evaluation harness and the benchmarks all call this, so what is measured is what
is served. Per request: validate against the limits, choose the mode, gather context (the editor's snippets
minus excluded paths, or the workspace's through the context service), assemble the prompt for the model's
profile, supersede the session's previous request, stream the engine's tokens through `shape`, and report.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from keystroke.config import Settings
from keystroke.domain.cursor import CursorContext
from keystroke.domain.engines.base import (
    DoneEvent,
    GenerationRequest,
    GenerationStats,
    InferenceBackend,
    TokenEvent,
)
from keystroke.domain.postprocess.modes import resolve_mode
from keystroke.domain.postprocess.ranking import choose, rank_plan
from keystroke.domain.postprocess.shaping import Mode, Shaped, Tail, shape, stop_check
from keystroke.domain.postprocess.syntax import is_python
from keystroke.domain.prompt.assembly import PrefixCutMemo, PromptInput, Snippet, assemble
from keystroke.domain.prompt.profiles import ModelProfile
from keystroke.errors import InvalidRequestError, PayloadTooLargeError
from keystroke.services.context import ContextOutcome, ContextService, allowed_snippets, exclusion_rules
from keystroke.services.sessions import SessionRegistry
from keystroke.services.types import (
    CompletionEvent,
    CompletionRequest,
    CompletionResult,
    ContextUse,
    Delta,
    Finished,
    FirstAction,
    Timings,
    Usage,
)

Clock = Callable[[], float]

_TAIL_AFTER: dict[str, Tail] = {"eos": "complete", "stop": "complete", "length": "truncated", "cancelled": "open"}


@dataclass
class _Progress:
    """One request in flight: what it asked for and what it has produced so far."""

    started: float
    request_id: str
    ctx: CursorContext
    mode: Mode
    max_lines: int
    ranked: bool = False
    raw: str = ""
    emitted: str = ""
    first_token_ms: float | None = None
    first_action_ms: float | None = None


class CompletionService:
    def __init__(
        self,
        backend: InferenceBackend,
        profile: ModelProfile,
        settings: Settings,
        clock: Clock = time.perf_counter,
        context: ContextService | None = None,
    ) -> None:
        self.backend = backend
        self.profile = profile
        self.settings = settings
        self.context = context
        self._clock = clock
        self._sessions = SessionRegistry()
        self._rules = exclusion_rules(settings.context)
        self._cuts = PrefixCutMemo()

    async def complete(self, request: CompletionRequest) -> CompletionResult:
        """The whole completion at once (the non-streaming path)."""
        async for event in self.stream(request):
            if isinstance(event, Finished):
                return event.result
        raise AssertionError("stream ended without a Finished event")  # pragma: no cover

    def stream(self, request: CompletionRequest) -> AsyncIterator[CompletionEvent]:
        """FirstAction when the first line is complete, Delta per further line, then Finished.

        Checks the request before returning, so a bad one fails here, before any event is sent."""
        started = self._clock()
        self._validate(request)
        return self._stream(request, started)

    async def _stream(self, request: CompletionRequest, started: float) -> AsyncIterator[CompletionEvent]:
        ctx = CursorContext(request.prefix, request.suffix)
        mode = resolve_mode(request.mode, ctx)
        max_lines = 1 if mode == "inline" else self.settings.completion.multiline_max_lines
        progress = _Progress(started, request.request_id or f"cmpl-{uuid.uuid4().hex[:24]}", ctx, mode, max_lines)
        context = await self._context(request)
        generation = self._generation_request(request, progress, context.snippets)
        prompt_build_ms = self._since(started)
        stats: GenerationStats | None = None
        self._sessions.begin(request.session_id, generation.cancel)
        try:
            async for event in self.backend.generate(generation):
                if isinstance(event, DoneEvent):
                    stats = event.stats
                    break
                for update in self._advance(progress, event):
                    yield update
        finally:
            self._sessions.end(request.session_id, generation.cancel)
        assert stats is not None
        final = shape(progress.raw, ctx, mode, tail=_TAIL_AFTER[stats.finish_reason], max_lines=max_lines)
        best = choose(stats.candidates)
        if best is not None:
            final = Shaped(best.text, complete=True)
        for update in self._emit(progress, final):
            yield update
        yield Finished(self._result(progress, final, stats, prompt_build_ms, context))

    def _validate(self, request: CompletionRequest) -> None:
        limits = self.settings.limits
        for field, text, limit in (
            ("segments.prefix", request.prefix, limits.max_prefix_bytes),
            ("segments.suffix", request.suffix, limits.max_suffix_bytes),
        ):
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise InvalidRequestError(f"{field} contains an unpaired UTF-16 surrogate", field) from exc
            if size > limit:
                raise PayloadTooLargeError(f"{field} is {size} bytes; the limit is {limit} bytes", field)
        if request.max_tokens is not None and not 1 <= request.max_tokens <= limits.max_tokens:
            raise InvalidRequestError(
                f"max_tokens must be between 1 and {limits.max_tokens}, got {request.max_tokens}", "max_tokens"
            )

    async def _context(self, request: CompletionRequest) -> ContextOutcome:
        """The editor's snippets when it sent any (excluded paths dropped), else the workspace's, if any."""
        given = allowed_snippets(request.snippets, self._rules)
        if given or self.context is None:
            return ContextOutcome(given)
        return await asyncio.to_thread(
            self.context.snippets_for,
            filepath=request.filepath,
            prefix=request.prefix,
            suffix=request.suffix,
            language=request.language,
            session_id=request.session_id,
        )

    def _generation_request(
        self, request: CompletionRequest, progress: _Progress, snippets: tuple[Snippet, ...]
    ) -> GenerationRequest:
        prompt_settings = self.settings.prompt
        assembled = assemble(
            self.profile,
            PromptInput(request.prefix, request.suffix, request.language, request.filepath, snippets),
            self.backend.tokenizer,
            budget_tokens=prompt_settings.budget_tokens,
            suffix_share=prompt_settings.suffix_share,
            heal=self.backend.capabilities.supports_forced_prefix,
            context_tokens=prompt_settings.context_tokens,
            memo=self._cuts,
        )
        caps = self.settings.completion
        default_cap = caps.inline_max_tokens if progress.mode == "inline" else caps.multiline_max_tokens
        ranks = request.trigger == "invoked" or caps.rank_automatic
        plan = rank_plan(
            progress.ctx,
            progress.mode,
            alternatives=caps.rank_alternatives if ranks else 0,
            lines=caps.rank_suffix_lines,
            python=is_python(request.language, request.filepath),
        )
        progress.ranked = plan is not None and self.backend.capabilities.supports_ranking
        return GenerationRequest(
            prompt=assembled.prompt,
            max_tokens=request.max_tokens or default_cap,
            forced_prefix=assembled.forced_prefix,
            stop=stop_check(progress.ctx, progress.mode, progress.max_lines),
            stop_tokens=self.profile.stop_tokens,
            rank=plan if progress.ranked else None,
        )

    def _advance(self, progress: _Progress, event: TokenEvent) -> list[CompletionEvent]:
        if progress.first_token_ms is None:
            progress.first_token_ms = self._since(progress.started)
        progress.raw += event.text
        if not event.text or progress.ranked:
            return []  # a ranked answer is shown once chosen, so nothing shown is ever taken back
        return self._emit(progress, shape(progress.raw, progress.ctx, progress.mode, max_lines=progress.max_lines))

    def _emit(self, progress: _Progress, shaped: Shaped) -> list[CompletionEvent]:
        if shaped.abstain is not None or not shaped.text.startswith(progress.emitted):
            return []
        new = shaped.text[len(progress.emitted) :]
        if not new:
            return []
        first = not progress.emitted
        progress.emitted = shaped.text
        if first:
            progress.first_action_ms = self._since(progress.started)
            return [FirstAction(progress.request_id, new, progress.first_action_ms)]
        return [Delta(new)]

    def _result(
        self,
        progress: _Progress,
        final: Shaped,
        stats: GenerationStats,
        prompt_build_ms: float,
        context: ContextOutcome,
    ) -> CompletionResult:
        abstain = final.abstain
        if stats.finish_reason == "cancelled" and not progress.emitted:
            abstain = "cancelled"
        return CompletionResult(
            id=progress.request_id,
            model=self.backend.info.name,
            mode=progress.mode,
            text=progress.emitted,
            finish_reason=stats.finish_reason,
            abstain_reason=abstain if not progress.emitted else None,
            usage=Usage(stats.prompt_tokens, stats.cached_tokens, stats.completion_tokens, stats.decoded_candidates),
            timings=Timings(
                queue_ms=stats.queue_ms,
                prompt_build_ms=prompt_build_ms,
                prefill_ms=stats.prefill_ms,
                decode_ms=stats.decode_ms,
                first_token_ms=progress.first_token_ms,
                first_action_ms=progress.first_action_ms,
                total_ms=self._since(progress.started),
            ),
            context=ContextUse.of(context),
        )

    def _since(self, start: float) -> float:
        return (self._clock() - start) * 1000
