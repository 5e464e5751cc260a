"""The completion service: one request in, a First Action (and maybe more lines) out, with timings.

The gateway, the CLI, the evaluation harness and the benchmarks all call this, so what is measured is what
is served. Per request, on behalf of a `Tenant` (the security context, an argument to every call): validate
against the limits and admit it, prepare it unless the caller did (`preparation.py`: exclusion, redaction,
context), assemble the prompt for the lane's model profile, supersede the tenant's session's previous request,
stream the engine's tokens through `shape`, reveal what is shown (once), and hand the outcome to the listeners
that keep account of it (`accounting.py`: audit record, usage totals, metrics).

Isolation: sessions, the prompt-cut memo, the redaction chunk cache and the engine's KV state are keyed by
the tenant's namespace (tenant, model, tokenizer); identical text from two tenants shares none of them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field

from keystroke.config import Settings
from keystroke.domain.context.cache import LruCache
from keystroke.domain.cursor import CursorContext
from keystroke.domain.engines.base import (
    Deadline,
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
from keystroke.domain.privacy.audit import AuditLog
from keystroke.domain.privacy.tenants import LOCAL, Tenant
from keystroke.domain.prompt.assembly import PrefixCutMemo, PromptInput, assemble
from keystroke.domain.prompt.profiles import ModelProfile
from keystroke.errors import InvalidRequestError, PayloadTooLargeError
from keystroke.services.accounting import EXCLUDED, AuditTrail, Listener, Served, UsageLedger, metrics_listener
from keystroke.services.admission import AdmissionControl, Ticket
from keystroke.services.context import ContextService
from keystroke.services.lanes import LaneEngine, Lanes, lane_of
from keystroke.services.metrics import Metrics
from keystroke.services.preparation import Preparation, PreparedRequest
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
from keystroke.services.workspace import Workspace

Clock = Callable[[], float]
LOCAL_TENANT = Tenant(LOCAL)
DEADLINE = "deadline"

_TAIL_AFTER: dict[str, Tail] = {"eos": "complete", "stop": "complete", "length": "truncated", "cancelled": "open"}


@dataclass
class _Progress:
    """One request in flight: what it asked for and what it has produced so far."""

    started: float
    request_id: str
    prepared: PreparedRequest
    mode: Mode
    lane: Lane
    engine: LaneEngine
    namespace: str  # the tenant's cache namespace on the lane's model: KV owner, prompt memo
    max_lines: int
    ctx: CursorContext = field(init=False)
    ranked: bool = False
    raw: str = ""
    emitted: str = ""  # as the model wrote it (placeholders)
    shown: str = ""  # as revealed to the caller
    first_token_ms: float | None = None
    first_action_ms: float | None = None
    stats: GenerationStats | None = None  # once the engine is done
    result: CompletionResult | None = None  # once answered
    failed: bool = False

    def __post_init__(self) -> None:
        self.ctx = CursorContext(self.prepared.request.prefix, self.prepared.request.suffix)


class CompletionService:
    def __init__(
        self,
        backend: InferenceBackend,
        profile: ModelProfile,
        settings: Settings,
        clock: Clock = time.perf_counter,
        workspace: Workspace | None = None,
        audit: AuditLog | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        """`backend` and `profile` serve every lane unless `lanes` gives some lanes engines of their own;
        `workspace`: context for the tenant that owns it (`context.workspace_tenant`), not closed here."""
        self.lanes = lanes or Lanes.single(backend, profile)
        self.backend = backend
        self.profile = profile
        self.settings = settings
        self.audit = audit
        self.workspace = workspace
        self.preparation = Preparation(settings, workspace.context if workspace else None)
        self._clock = clock
        self._sessions = SessionRegistry()
        self._cuts: LruCache[str, PrefixCutMemo] = LruCache("prompt cut memos per namespace", 256)
        self.admission = AdmissionControl(settings.admission, clock)
        self.metrics = Metrics(lambda: self.admission.refused)
        self.ledger = UsageLedger()
        self.listeners: list[Listener] = [self.ledger, metrics_listener(self.metrics)]
        if audit is not None:
            self.listeners.append(AuditTrail(audit))

    @property
    def model(self) -> str:
        """The inline lane's model (the one every lane uses unless `lanes` says otherwise)."""
        return self.backend.info.name

    @property
    def context(self) -> ContextService | None:
        """The workspace's context service, when this service collects context itself."""
        return self.preparation.context

    async def complete(
        self, request: CompletionRequest | PreparedRequest, tenant: Tenant = LOCAL_TENANT
    ) -> CompletionResult:
        """The whole completion at once (the non-streaming path)."""
        stream = self.stream(request, tenant)
        try:
            async for event in stream:
                if isinstance(event, Finished):
                    return event.result
        finally:
            await stream.aclose()  # the audit record, usage and admission settle now
        raise AssertionError("stream ended without a Finished event")  # pragma: no cover

    def stream(self, request: CompletionRequest | PreparedRequest, tenant: Tenant = LOCAL_TENANT) -> Admitted:
        """FirstAction when the first line is complete, Delta per further line, then Finished.

        A `PreparedRequest` is taken as it is (its caller, in this process, prepared it); a plain request is
        prepared here. Checks the request and admits it before returning, so a bad one (or one refused with
        429) fails here, before any event is sent."""
        started = self._clock()
        asked = request.request if isinstance(request, PreparedRequest) else request
        self._validate(asked)
        mode = resolve_mode(asked.mode, CursorContext(asked.prefix, asked.suffix))
        ticket = self.admission.admit(tenant.name, mode, asked.background)
        return Admitted(self._stream(request, tenant, started, mode, ticket), lambda: self.admission.release(ticket))

    def namespace(self, tenant: Tenant, backend: InferenceBackend | None = None) -> str:
        """The tenant's cache namespace on `backend`'s model (default: the inline lane's)."""
        info = (backend or self.backend).info
        return tenant.namespace(info.name, info.tokenizer_id)

    async def aclose(self) -> None:
        """Close every lane's backend."""
        for backend in self.lanes.backends():
            await backend.aclose()

    def usage(self, tenant: Tenant) -> dict[str, int]:
        """The tenant's running totals since the service started (what `GET /v1/usage` answers)."""
        return self.ledger.of(tenant)

    async def _stream(
        self, request: CompletionRequest | PreparedRequest, tenant: Tenant, started: float, mode: Mode, ticket: Ticket
    ) -> AsyncGenerator[CompletionEvent, None]:
        asked = request.request if isinstance(request, PreparedRequest) else request
        lane = lane_of(mode, asked.trigger)
        engine = self.lanes.engine(lane)
        namespace = self.namespace(tenant, engine.backend)
        prepared = request if isinstance(request, PreparedRequest) else await self._prepare(asked, tenant, namespace)
        request_id = asked.request_id or f"cmpl-{uuid.uuid4().hex[:24]}"
        if prepared.excluded:
            refused = self._excluded(request_id, mode, lane)
            self._report(Served(tenant, asked, request_id, lane, engine.model, refused, None))
            yield Finished(refused)
            return
        max_lines = 1 if mode == "inline" else self.settings.completion.multiline_max_lines
        progress = _Progress(started, request_id, prepared, mode, lane, engine, namespace, max_lines)
        generation = self._generation_request(progress, ticket)
        prompt_build_ms = self._since(started)
        assert generation.drop_deadline is not None  # the request's own time: past it, it is cancelled
        timer = asyncio.get_running_loop().call_later(
            max(generation.drop_deadline.remaining_s(), 0.0), generation.cancel.cancel, DEADLINE
        )
        session = self._session(request, tenant)
        self._sessions.begin(session, generation.cancel)
        try:
            async for event in engine.backend.generate(generation):
                if isinstance(event, DoneEvent):
                    progress.stats = event.stats
                    break
                for update in self._advance(progress, event):
                    yield update
            assert progress.stats is not None
            final = self._final(progress, progress.stats)
            for update in self._emit(progress, final):
                yield update
            progress.result = self._result(progress, final, progress.stats, prompt_build_ms)
            yield Finished(progress.result)
        except Exception:
            progress.failed = True
            raise
        finally:
            timer.cancel()
            self._sessions.end(session, generation.cancel)
            self._report(self._served(progress, tenant, generation))

    def _served(self, progress: _Progress, tenant: Tenant, generation: GenerationRequest) -> Served:
        """The request as it ended; its code (prompt and answer) only where the tenant retains code."""
        retained = generation.prompt.render() if tenant.retain_code else ""
        prepared = progress.prepared
        return Served(tenant, prepared.request, progress.request_id, progress.lane, progress.engine.model,
                      progress.result, progress.stats, progress.failed, prepared.redactions, retained,
                      progress.emitted if retained else "")  # fmt: skip

    async def _prepare(self, request: CompletionRequest, tenant: Tenant, namespace: str) -> PreparedRequest:
        """A request from another process, prepared here: the workspace's context only for its own tenant."""
        gather = tenant.name == self.settings.context.workspace_tenant
        return await self.preparation.prepare(request, namespace, gather=gather)

    @staticmethod
    def _session(request: CompletionRequest | PreparedRequest, tenant: Tenant) -> str | None:
        """The tenant's session a request supersedes in: only for requests from another process; an editor in
        this process supersedes its own generations (`editor/generations.py`)."""
        if isinstance(request, PreparedRequest) or request.session_id is None:
            return None
        return f"{tenant.name}\x1f{request.session_id}"

    def _report(self, served: Served) -> None:
        for listener in self.listeners:
            listener(served)

    def _final(self, progress: _Progress, stats: GenerationStats) -> Shaped:
        """The answer once the generation ended: the chosen candidate of a ranked one, else the text shaped."""
        best = choose(stats.candidates)
        if best is not None:
            return Shaped(best.text, complete=True)
        tail = _TAIL_AFTER[stats.finish_reason]
        return shape(progress.raw, progress.ctx, progress.mode, tail=tail, max_lines=progress.max_lines)

    def _heals(self, engine: LaneEngine) -> bool:
        """Whether prompts end before their last token, which the model then generates (token healing)."""
        setting = self.settings.prompt.token_healing
        wanted = setting == "on" or (setting == "l2r" and not engine.profile.uses_fim)
        return wanted and engine.backend.capabilities.supports_forced_prefix

    def _validate(self, request: CompletionRequest) -> None:
        limits = self.settings.limits
        for name, text, limit in (
            ("segments.prefix", request.prefix, limits.max_prefix_bytes),
            ("segments.suffix", request.suffix, limits.max_suffix_bytes),
        ):
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise InvalidRequestError(f"{name} contains an unpaired UTF-16 surrogate", name) from exc
            if size > limit:
                raise PayloadTooLargeError(f"{name} is {size} bytes; the limit is {limit} bytes", name)
        if request.max_tokens is not None and not 1 <= request.max_tokens <= limits.max_tokens:
            raise InvalidRequestError(
                f"max_tokens must be between 1 and {limits.max_tokens}, got {request.max_tokens}", "max_tokens"
            )

    def _generation_request(self, progress: _Progress, ticket: Ticket) -> GenerationRequest:
        """What the engine is asked: the assembled prompt, caps, stop check, ranking plan, cache owner, route key,
        and when to give up (the ticket's queue priority and deadline; dropped when paused past the request's
        time)."""
        request = progress.prepared.request
        prompt_settings = self.settings.prompt
        engine = progress.engine
        assembled = assemble(
            engine.profile,
            PromptInput(request.prefix, request.suffix, request.language, request.filepath, request.snippets),
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
            priority=ticket.priority,
            queue_deadline=ticket.queue_deadline,
            drop_deadline=Deadline(progress.started + self.settings.admission.request_timeout_ms / 1000, self._clock),
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
        shown = progress.prepared.reveal(new)
        progress.shown += shown
        if first:
            progress.first_action_ms = self._since(progress.started)
            ms = progress.first_action_ms
            return [FirstAction(progress.request_id, shown, ms, progress.lane, progress.engine.model)]
        return [Delta(shown)]

    def _result(
        self, progress: _Progress, final: Shaped, stats: GenerationStats, prompt_build_ms: float
    ) -> CompletionResult:
        abstain = final.abstain
        if stats.finish_reason == "cancelled" and not progress.emitted:
            abstain = "cancelled"
        return CompletionResult(
            id=progress.request_id,
            model=progress.engine.model,
            mode=progress.mode,
            lane=progress.lane,
            text=progress.shown,
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
            context=ContextUse.of(progress.prepared.context),
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

    def _since(self, start: float) -> float:
        return (self._clock() - start) * 1000


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
