"""The completion service: one request in, a First Action (and maybe more lines) out, with timings.

The gateway, the CLI, the evaluation harness and the benchmarks all call this, so what is measured is what
is served. Per request, on behalf of a `Tenant` (the security context, an argument to every call): validate
against the limits, refuse an excluded file (answered without the engine), choose the mode, redact secrets
(placeholders), gather context (the editor's snippets minus excluded paths, or the workspace's for the tenant
that owns it), assemble the prompt for the model's profile, supersede the tenant's session's previous request,
stream the engine's tokens through `shape`, reveal this request's placeholders, report, and write the audit
record (no code unless the tenant retains code).

Isolation: sessions, the prompt-cut memo, the redaction chunk cache and the engine's KV state are keyed by
the tenant's namespace (tenant, model, tokenizer); identical text from two tenants shares none of them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from keystroke.config import Settings
from keystroke.domain.context.cache import LruCache
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
from keystroke.domain.privacy.audit import AuditLog, AuditRecord, RetainedCode, latency_bucket
from keystroke.domain.privacy.redaction import Vault
from keystroke.domain.privacy.tenants import LOCAL, Tenant
from keystroke.domain.prompt.assembly import PrefixCutMemo, PromptInput, Snippet, assemble
from keystroke.domain.prompt.profiles import ModelProfile
from keystroke.errors import InvalidRequestError, PayloadTooLargeError
from keystroke.services.admission import AdmissionControl, Ticket
from keystroke.services.context import ContextOutcome, ContextService, allowed_snippets, exclusion_rules
from keystroke.services.lanes import LaneEngine, Lanes, lane_of
from keystroke.services.metrics import Metrics
from keystroke.services.privacy import Redactor
from keystroke.services.sessions import SessionRegistry
from keystroke.services.types import (
    CompletionEvent,
    CompletionRequest,
    CompletionResult,
    ContextUse,
    Delta,
    Finished,
    FirstAction,
    Lane,
    Timings,
    Usage,
)

Clock = Callable[[], float]
LOCAL_TENANT = Tenant(LOCAL)
EXCLUDED = "excluded"
DEADLINE = "deadline"

_TAIL_AFTER: dict[str, Tail] = {"eos": "complete", "stop": "complete", "length": "truncated", "cancelled": "open"}


@dataclass(frozen=True)
class _Served:
    """Who answered a request: its id, lane and the lane's model (for the audit record)."""

    request_id: str
    lane: Lane
    model: str


@dataclass
class _Progress:
    """One request in flight: what it asked for and what it has produced so far."""

    started: float
    request_id: str
    ctx: CursorContext
    mode: Mode
    max_lines: int
    namespace: str  # the tenant's cache namespace: KV owner, prompt memo, redaction cache
    vault: Vault
    lane: Lane
    engine: LaneEngine
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
        audit: AuditLog | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        """`backend` and `profile` serve every lane unless `lanes` gives some lanes engines of their own."""
        self.lanes = lanes or Lanes.single(backend, profile)
        self.backend = backend
        self.profile = profile
        self.settings = settings
        self.context = context
        self.audit = audit
        self.redactor = Redactor(settings.privacy)
        self._clock = clock
        self._sessions = SessionRegistry()
        self._rules = exclusion_rules(settings)
        self._cuts: LruCache[str, PrefixCutMemo] = LruCache("prompt cut memos per namespace", 256)
        self.admission = AdmissionControl(settings.admission, clock)
        self.metrics = Metrics(lambda: self.admission.refused)
        self._usage: dict[str, Counter[str]] = {}  # per tenant name: running totals (see `usage`)

    async def complete(self, request: CompletionRequest, tenant: Tenant = LOCAL_TENANT) -> CompletionResult:
        """The whole completion at once (the non-streaming path)."""
        stream = self.stream(request, tenant)
        try:
            async for event in stream:
                if isinstance(event, Finished):
                    return event.result
        finally:
            await stream.aclose()  # the audit record, usage and admission settle now
        raise AssertionError("stream ended without a Finished event")  # pragma: no cover

    def stream(self, request: CompletionRequest, tenant: Tenant = LOCAL_TENANT) -> Admitted:
        """FirstAction when the first line is complete, Delta per further line, then Finished.

        Checks the request and admits it before returning, so a bad one (or one refused with 429) fails here,
        before any event is sent."""
        started = self._clock()
        self._validate(request)
        mode = resolve_mode(request.mode, CursorContext(request.prefix, request.suffix))
        ticket = self.admission.admit(tenant.name, mode, request.background)
        return Admitted(self._stream(request, tenant, started, mode, ticket), lambda: self.admission.release(ticket))

    def namespace(self, tenant: Tenant, backend: InferenceBackend | None = None) -> str:
        """The tenant's cache namespace on `backend`'s model (default: the inline lane's)."""
        info = (backend or self.backend).info
        return tenant.namespace(info.name, info.tokenizer_id)

    async def aclose(self) -> None:
        """Close every lane's backend."""
        for backend in self.lanes.backends():
            await backend.aclose()

    def excluded(self, filepath: str | None) -> bool:
        """Whether the file is kept out of every prompt (default rules, configuration, organisation policy)."""
        return bool(filepath) and self._rules.excludes_named(str(filepath))

    async def _stream(
        self, original: CompletionRequest, tenant: Tenant, started: float, mode: Mode, ticket: Ticket
    ) -> AsyncGenerator[CompletionEvent, None]:
        request_id = original.request_id or f"cmpl-{uuid.uuid4().hex[:24]}"
        if self.excluded(original.filepath):
            refused = self._excluded(request_id, mode, lane_of(mode, original.trigger))
            self._audit(tenant, original, refused, _Served(request_id, refused.lane, refused.model), 0)
            self.metrics.request(tenant.name, refused.lane, refused.model, EXCLUDED, None, None)
            yield Finished(refused)
            return
        lane = lane_of(mode, original.trigger)
        engine = self.lanes.engine(lane)
        namespace = self.namespace(tenant, engine.backend)
        request, vault = self.redactor.request(original, namespace)
        ctx = CursorContext(request.prefix, request.suffix)
        max_lines = 1 if mode == "inline" else self.settings.completion.multiline_max_lines
        progress = _Progress(started, request_id, ctx, mode, max_lines, namespace, vault, lane, engine)
        context = await self._context(request, tenant, namespace, vault)
        generation = self._generation_request(request, progress, context.snippets)
        generation.priority, generation.queue_deadline = ticket.priority, ticket.queue_deadline
        prompt_build_ms = self._since(started)
        remaining_s = self.settings.admission.request_timeout_ms / 1000 - (self._clock() - started)
        generation.drop_deadline = self._clock() + remaining_s
        deadline = asyncio.get_running_loop().call_later(max(remaining_s, 0.0), generation.cancel.cancel, DEADLINE)
        stats: GenerationStats | None = None
        result: CompletionResult | None = None
        session = None if request.session_id is None else f"{tenant.name}\x1f{request.session_id}"
        self._sessions.begin(session, generation.cancel)
        failed = False
        try:
            async for event in engine.backend.generate(generation):
                if isinstance(event, DoneEvent):
                    stats = event.stats
                    break
                for update in self._advance(progress, event):
                    yield update
            assert stats is not None
            final = shape(progress.raw, progress.ctx, mode, tail=_TAIL_AFTER[stats.finish_reason], max_lines=max_lines)
            best = choose(stats.candidates)
            if best is not None:
                final = Shaped(best.text, complete=True)
            for update in self._emit(progress, final):
                yield update
            result = self._result(progress, final, stats, prompt_build_ms, context)
            yield Finished(result)
        except Exception:
            failed = True
            raise
        finally:
            deadline.cancel()
            self._sessions.end(session, generation.cancel)
            retained = generation.prompt.render() if tenant.retain_code else ""
            outcome = "error" if failed else "cancelled" if result is None else _outcome(result)
            served = _Served(request_id, lane, engine.model)
            self._audit(tenant, original, result, served, len(vault), retained, progress.emitted, outcome)
            self._count(tenant, stats, result)
            if original.background:  # a prefetch: counted apart, its (queued) latency is no user's wait
                self.metrics.request(tenant.name, "prefetch", engine.model, outcome.split(":")[0], None, stats)
            else:
                self.metrics.request(tenant.name, lane, engine.model, outcome.split(":")[0], result, stats)

    def _heals(self, engine: LaneEngine) -> bool:
        """Whether prompts end before their last token, which the model then generates (token healing)."""
        setting = self.settings.prompt.token_healing
        wanted = setting == "on" or (setting == "l2r" and not engine.profile.uses_fim)
        return wanted and engine.backend.capabilities.supports_forced_prefix

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

    async def _context(
        self, request: CompletionRequest, tenant: Tenant, namespace: str, vault: Vault
    ) -> ContextOutcome:
        """The editor's snippets when it sent any (excluded paths dropped), else the workspace's, if any and
        if this tenant owns it (redacted in the request's vault)."""
        given = allowed_snippets(request.snippets, self._rules)
        if given or self.context is None or tenant.name != self.settings.context.workspace_tenant:
            return ContextOutcome(given)
        found = await asyncio.to_thread(
            self.context.snippets_for,
            filepath=request.filepath,
            prefix=request.prefix,
            suffix=request.suffix,
            language=request.language,
            session_id=request.session_id,
        )
        snippets = self.redactor.snippets(found.snippets, vault, namespace)
        return ContextOutcome(snippets, found.depth, found.reports, found.ms)

    def _generation_request(
        self, request: CompletionRequest, progress: _Progress, snippets: tuple[Snippet, ...]
    ) -> GenerationRequest:
        prompt_settings = self.settings.prompt
        engine = progress.engine
        assembled = assemble(
            engine.profile,
            PromptInput(request.prefix, request.suffix, request.language, request.filepath, snippets),
            engine.backend.tokenizer,
            budget_tokens=prompt_settings.budget_tokens,
            suffix_share=prompt_settings.suffix_share,
            heal=self._heals(engine),
            context_tokens=prompt_settings.context_tokens,
            memo=self._cuts.get_or_compute(progress.namespace, PrefixCutMemo),
            layout=prompt_settings.context_layout,
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
            fim=engine.profile.uses_fim,
        )
        progress.ranked = plan is not None and engine.backend.capabilities.supports_ranking
        return GenerationRequest(
            prompt=assembled.prompt,
            max_tokens=request.max_tokens or default_cap,
            forced_prefix=assembled.forced_prefix,
            stop=stop_check(progress.ctx, progress.mode, progress.max_lines),
            stop_tokens=engine.profile.stop_tokens,
            rank=plan if progress.ranked else None,
            cache_owner=progress.namespace,
            route_key=f"{progress.namespace}\x1f{request.filepath or request.session_id or ''}",
            speculation_key=f"{request.language or 'text'}/{progress.lane}",
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
        shown = self.redactor.reveal(new, progress.vault)
        if first:
            progress.first_action_ms = self._since(progress.started)
            ms = progress.first_action_ms
            return [FirstAction(progress.request_id, shown, ms, progress.lane, progress.engine.model)]
        return [Delta(shown)]

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
            model=progress.engine.model,
            mode=progress.mode,
            lane=progress.lane,
            text=self.redactor.reveal(progress.emitted, progress.vault),
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

    def _excluded(self, request_id: str, mode: Mode, lane: Lane) -> CompletionResult:
        """The answer for a file kept out of every prompt: nothing, without asking the engine."""
        return CompletionResult(
            id=request_id,
            model=self.lanes.engine(lane).model,
            mode=mode,
            lane=lane,
            text="",
            finish_reason="stop",
            abstain_reason=EXCLUDED,
            usage=Usage(0, 0, 0, 0),
            timings=Timings(0.0, 0.0, 0.0, 0.0, None, None, 0.0),
        )

    def _audit(
        self,
        tenant: Tenant,
        request: CompletionRequest,
        result: CompletionResult | None,
        served: _Served,
        redactions: int,
        prompt: str = "",
        completion: str = "",
        outcome: str | None = None,
    ) -> None:
        """The request's audit record: sizes, timings and outcome; the (redacted) code only if retained."""
        if self.audit is None:
            return
        if outcome is None:
            outcome = "cancelled" if result is None else _outcome(result)
        record = AuditRecord(
            request_id=served.request_id,
            model=served.model,
            lane=served.lane,
            trigger=request.trigger,
            prefix_bytes=len(request.prefix.encode("utf-8", "replace")),
            suffix_bytes=len(request.suffix.encode("utf-8", "replace")),
            snippets=result.context.snippets if result else 0,
            redactions=redactions,
            prompt_tokens=result.usage.prompt_tokens if result else 0,
            cached_tokens=result.usage.cached_tokens if result else 0,
            completion_chars=len(result.text) if result else 0,
            latency=latency_bucket(result.timings.first_action_ms if result else None),
            outcome=outcome,
        )
        self.audit.record(tenant, record, RetainedCode(prompt, completion) if prompt else None)

    def usage(self, tenant: Tenant) -> dict[str, int]:
        """The tenant's running totals since the service started (what `GET /v1/usage` answers)."""
        return dict(self._usage.get(tenant.name, Counter()))

    def _count(self, tenant: Tenant, stats: GenerationStats | None, result: CompletionResult | None) -> None:
        totals = self._usage.setdefault(tenant.name, Counter())
        totals["requests"] += 1
        totals["shown"] += bool(result and result.text)
        if stats is not None:
            totals["prompt_tokens"] += stats.prompt_tokens
            totals["cached_tokens"] += stats.cached_tokens
            totals["decoded_tokens"] += stats.completion_tokens
            totals["draft_rounds"] += stats.draft_rounds
            totals["draft_accepted"] += stats.draft_accepted
            if not (result and result.text):
                totals["unshown_decoded_tokens"] += stats.completion_tokens

    def _since(self, start: float) -> float:
        return (self._clock() - start) * 1000


def _outcome(result: CompletionResult) -> str:
    if result.text:
        return "shown"
    if result.abstain_reason == EXCLUDED:
        return EXCLUDED
    return f"abstained:{result.abstain_reason or result.finish_reason}"


class Admitted(AsyncIterator[CompletionEvent]):
    """A completion stream that gives its admission ticket back exactly once: when it ends, when it is closed,
    or when it is dropped without ever being read (a client gone before the response started)."""

    def __init__(self, events: AsyncGenerator[CompletionEvent, None], release: Callable[[], None]) -> None:
        self._events = events
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> Admitted:
        return self

    async def __anext__(self) -> CompletionEvent:
        try:
            return await self._events.__anext__()
        except BaseException:
            self._done()
            raise

    async def aclose(self) -> None:
        try:
            await self._events.aclose()
        finally:
            self._done()

    def _done(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __del__(self) -> None:
        self._done()
