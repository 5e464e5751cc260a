"""The editor session service: what the language server does between a keystroke and a shown suggestion.

Per open document it keeps the text, the version, the typing rhythm and a `DocumentSession` (request ids,
staleness). A suggestion request goes through, in order:

1. the result cache (the same text around the cursor was answered before, or the user typed into a shown
   suggestion): answered at once; not when the user asked explicitly (they get a fresh, ranked answer);
2. an in-flight generation that the user is typing along with: its answer is awaited and shown minus what was
   typed, instead of cancelling it and asking again;
3. the router: mid-expression after `.` or `(` the local lane (Jedi, buffer words, typo fix) and the remote
   lane start together, and a fair local guess is shown first; a file excluded from upload is answered by
   the local lane only, and so is a request after a mere cursor move (a click or an arrow key is no sign
   that a suggestion is wanted, and a generation elsewhere in the file would evict the model's cached
   prompt where the user is typing);
4. the debounce (at once after `.`, `(` or a newline, else about 150 ms adapted to the typing rhythm); a new
   keystroke ends the wait and the request with it;
5. the remote lane (gateway or embedded engine), asked with the trigger: as-you-type requests are decoded
   greedily, the first line sent the moment it exists; an explicit request may be ranked among alternatives.
   A keystroke that does not extend the generation's text cancels it end to end. If the gateway is down or
   slow, the local lane answers. Only what the prompt budget can use of a large file is sent (`window.py`).

A result is returned only if it was computed for the document's current version and cursor; a late one is
dropped (and kept in the cache, where the same text will find it again). Time is injected (`EditorClock`),
so tests drive debounce and TTLs without sleeping. Not thread-safe: one event loop drives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from keystroke.config import Settings
from keystroke.domain.context.index import IndexSummary, Progress
from keystroke.domain.context.languages import language_of
from keystroke.domain.context.token_estimate import EstimatedTokenizer
from keystroke.domain.context.walker import keystroke_ignored
from keystroke.domain.editor.diff import text_change
from keystroke.domain.editor.result_cache import ResultCache, Scope
from keystroke.domain.editor.router import Lane, Route, route
from keystroke.domain.editor.session import DocumentSession, Position, Ticket
from keystroke.domain.editor.triggers import DebounceSettings, Rhythm, Trigger, classify
from keystroke.domain.editor.window import upload_window, window_chars
from keystroke.domain.statistics import percentiles
from keystroke.errors import RemoteUnavailableError
from keystroke.services.context import ContextService
from keystroke.services.feedback import Feedback, TelemetrySink
from keystroke.services.local_lane import LocalItem, LocalLane, LocalQuery
from keystroke.services.prefetch import Prefetches, next_prefix
from keystroke.services.preparation import Preparation, PreparedRequest
from keystroke.services.remote_lane import RemoteAnswer, RemoteLane
from keystroke.services.types import CompletionRequest
from keystroke.services.types import Trigger as RequestTrigger
from keystroke.services.workspace import Watcher, open_workspace

log = logging.getLogger(__name__)

MAX_TYPED_ALONG = 40  # characters typed into an in-flight generation before it is given up
SuggestionLane = Lane | str  # a router lane, or "cache" / "inflight" / "fallback"


class EditorClock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Suggestion:
    text: str  # to insert at the cursor, after removing `replace` characters before it
    lane: SuggestionLane
    reason: str
    ticket: Ticket
    replace: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])  # names it in telemetry events
    latency_ms: float = 0.0  # from the request (debounce left out) to this answer
    cached_ratio: float | None = None  # share of the model's prompt served from the KV cache, when known


@dataclass
class EditorStats:
    """Counters for the debug log, the `keystroke/stats` request and the replay benchmark."""

    keystrokes: int = 0
    requests: int = 0  # suggestion requests received from the editor
    sent: int = 0  # generations started on the remote lane
    cancelled: int = 0  # generations cancelled before they finished
    superseded: int = 0  # requests that ended in their debounce because the user typed on
    stale: int = 0  # answers that arrived for an older version or cursor and were dropped
    shown: int = 0
    cache_hits: int = 0
    typed_through: int = 0  # cache hits that continue a shown suggestion the user typed into
    inflight_reused: int = 0
    with_context: int = 0  # generations sent with snippets from the indexed workspace
    remote_errors: int = 0
    accepted: int = 0  # suggestions the editor reported accepted (the `keystroke.accepted` command)
    prefetch_started: int = 0  # next-line prefetches asked for (`prefetch.py`)
    prefetch_cancelled: int = 0  # of them, dropped by an edit that left the predicted text
    prefetch_hits: int = 0  # prefetched answers served from the cache
    prefetch_tokens: int = 0  # tokens decoded for prefetches that finished
    prefetch_used_tokens: int = 0  # of them, of prefetches that were served
    lanes: Counter[str] = field(default_factory=Counter)  # shown suggestions by lane
    answered_by: Counter[str] = field(default_factory=Counter)  # model answers by "serving lane · model"
    routes: Counter[tuple[str, str]] = field(default_factory=Counter)  # router decisions, (lane, reason)
    # per lane of shown suggestions: ms from the request (debounce wait left out) to the answer; the last 10,000
    latency_ms: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=10_000)))
    # the serving side's own first-action time for each remote answer (the floor under the remote lanes)
    serving_ms: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def as_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["lanes"] = dict(self.lanes)
        data["answered_by"] = dict(self.answered_by)
        data["routes"] = [{"lane": lane, "reason": why, "count": n} for (lane, why), n in sorted(self.routes.items())]
        data["latency_ms"] = {lane: percentiles(list(values)) for lane, values in sorted(self.latency_ms.items())}
        data["serving_ms"] = percentiles(list(self.serving_ms))
        data["prefetch_wasted"] = self.prefetch_tokens - self.prefetch_used_tokens  # decoded, never served
        return data


@dataclass
class Document:
    uri: str
    path: str | None  # on disk, when the document is a file
    key: str  # its name in cache keys and requests: workspace-relative when inside the workspace, else path or uri
    language: str | None
    text: str
    session: DocumentSession
    rhythm: Rhythm
    excluded: bool
    trigger: Trigger = Trigger.TYPING  # of the last change
    timer: asyncio.Future[None] | None = None
    waited: float = 0.0  # seconds the current request spent in its debounce


@dataclass
class _InFlight:
    """A generation running on the remote lane, for the text `prefix` | `suffix`."""

    prefix: str
    suffix: str
    task: asyncio.Task[RemoteAnswer]
    waiters: int = 0
    kept: bool = False  # the user typed along with it: the next request reuses it


class EditorService:
    def __init__(
        self,
        remote: RemoteLane | None,
        local: LocalLane,
        settings: Settings,
        *,
        tenant: str = "local",
        root: Path | None = None,
        clock: EditorClock | None = None,
        telemetry: TelemetrySink | None = None,
    ) -> None:
        self.remote = remote
        self.local = local
        self.settings = settings.editor
        self._all_settings = settings
        self.tenant = tenant
        self.root = root
        self.clock = clock or SystemClock()
        self.cache = ResultCache(self.settings.cache_entries, self.settings.cache_ttl_s, self.clock.now)
        self.stats = EditorStats()
        self.feedback = Feedback(telemetry, self.clock.now)
        self.preparation = Preparation(settings)  # exclusion, redaction and context, before upload
        self._debounce = DebounceSettings(
            self.settings.debounce_ms, self.settings.debounce_min_ms, self.settings.debounce_max_ms
        )
        self._documents: dict[str, Document] = {}
        self._inflight: dict[str, _InFlight] = {}
        self.prefetches = Prefetches()
        self._window = window_chars(settings.prompt.budget_tokens)  # what of a huge file goes to the model
        self._watcher: Watcher | None = None

    async def connect(self) -> None:
        """Learn the remote lane's model and privacy policy; the policy's exclusions and secret patterns are
        added to this editor's own (they can only add), and open documents are checked again."""
        if self.remote is None:
            return
        policy = await self.remote.connect()
        log.info("remote lane serves %s", self.remote.model)
        if not policy.exclude and not policy.patterns:
            return
        context = self.preparation.context
        self.preparation = Preparation(
            self._all_settings, context, policy_exclude=policy.exclude, policy_patterns=policy.patterns
        )
        for document in self._documents.values():
            document.excluded = document.excluded or self._excludes(document.path, self._relative(document.path))

    # -- workspace -----------------------------------------------------------------------------------------

    async def index_workspace(self, progress: Progress | None = None) -> IndexSummary | None:
        """Index the workspace root (reloaded from the cache when it was indexed before) and from then on send
        context from it with every request to the model; follow file changes (`context.watch`). None when
        there is nothing to index for (no root, no remote lane); ConfigError when the root holds more than
        `editor.index_max_files` files (a home folder rather than a project)."""
        if self.root is None or self.remote is None:
            return None
        limit = self.settings.index_max_files
        index = await asyncio.to_thread(open_workspace, self._all_settings, progress, self.root, limit)
        tokenizer = self.remote.tokenizer or EstimatedTokenizer()
        context = ContextService.for_workspace(index, tokenizer, self._all_settings)
        self.preparation.context = context
        if self._all_settings.context.watch:
            self._watcher = Watcher(index, context.engine.recent).start()
        return index.last_summary

    # -- documents ---------------------------------------------------------------------------------------

    def open(self, uri: str, text: str, version: int, language: str | None, path: str | None = None) -> Document:
        """Track a document; an editor that names no language (Neovim without filetype detection) gets the
        one its file name says."""
        language = language or language_of(path or uri)
        relative = self._relative(path)
        excluded = self._excludes(path, relative)
        document = Document(
            uri, path, relative or path or uri, language, text, DocumentSession(uri, version), Rhythm(self._debounce),
            excluded,
        )  # fmt: skip
        self._documents[uri] = document
        return document

    def change(self, uri: str, version: int, text: str) -> None:
        """The document now reads `text`: supersede its pending request, keep or cancel its generation."""
        document = self._documents[uri]
        start, removed, inserted = text_change(document.text, text)
        document.text = text
        document.session.changed(version)
        document.rhythm.keystroke(self.clock.now())
        document.trigger = classify(inserted)
        self.stats.keystrokes += 1
        self.stats.prefetch_cancelled += self.prefetches.edited(uri, text, start + len(inserted))
        self.feedback.edited(uri, start, removed, inserted)
        if document.timer is not None and not document.timer.done():
            document.timer.cancel()
        if max(len(inserted), len(removed)) >= self.settings.large_edit_chars:
            self.cache.invalidate(document.key)
        inflight = self._inflight.get(uri)
        if inflight is not None and not inflight.task.done():
            if removed == "" and _extends(inflight, text, start + len(inserted)):
                inflight.kept = True
            else:
                self._cancel(uri, "an edit that does not extend its text")

    def save(self, uri: str) -> None:
        if uri in self._documents:
            self.cache.invalidate(self._documents[uri].key)

    def close(self, uri: str) -> None:
        self._cancel(uri, "document closed")
        self.prefetches.cancel(uri)
        self.feedback.closed(uri)
        document = self._documents.pop(uri, None)
        if document is not None and document.timer is not None:
            document.timer.cancel()

    @property
    def context(self) -> ContextService | None:
        """The workspace's context service, once indexed."""
        return self.preparation.context

    def document(self, uri: str) -> Document | None:
        return self._documents.get(uri)

    def texts(self, but: str) -> tuple[str, ...]:
        return tuple(d.text for uri, d in self._documents.items() if uri != but)

    # -- suggestions ----------------------------------------------------------------------------------

    async def suggest(self, uri: str, position: Position, offset: int, invoked: bool = False) -> Suggestion | None:
        """The suggestion to show at `offset` of the text; `position` is the same place as (line, column),
        both in code points."""
        document = self._documents[uri]
        moved = document.session.moved(position) and not invoked
        ticket = document.session.ticket(position)
        self.stats.requests += 1
        started, document.waited = self.clock.now(), 0.0
        prefix, suffix = document.text[:offset], document.text[offset:]
        chosen = self._route(document, prefix, suffix, moved)
        found = None if invoked else self._from_cache(document, ticket, prefix, suffix)
        if found is None:
            found = await self._answer(document, ticket, chosen, prefix, suffix, invoked, moved)
        current = document.session.is_current(ticket)
        if found is None or not found.text:
            if current:  # else the request was superseded: the user typed on before any answer was due
                self.feedback.outcome("abstained", chosen.lane, document.language)
            return None
        if not current:
            self.stats.stale += 1
            self.feedback.outcome("stale", str(found.lane), document.language)
            return None
        latency_ms = (self.clock.now() - started - document.waited) * 1000
        found = replace(found, latency_ms=latency_ms)
        self.stats.shown += 1
        self.stats.lanes[str(found.lane)] += 1
        self.stats.latency_ms[str(found.lane)].append(latency_ms)
        self.feedback.shown(uri, found.id, str(found.lane), document.language, offset, found.replace, found.text,
                            latency_ms)  # fmt: skip
        if found.lane in ("inline", "multiline", "cache", "inflight") and not found.replace:
            self._prefetch_after(document, prefix, suffix, found.text)
        return found

    def accepted(self, suggestion_id: str, start: int | None = None, chars: int | None = None) -> bool:
        """The user accepted a shown suggestion: all of it, or `chars` characters inserted at `start`."""
        known = self.feedback.accepted(suggestion_id, start, chars)
        self.stats.accepted += known
        return known

    def dismissed(self, suggestion_id: str) -> bool:
        return self.feedback.dismissed(suggestion_id)

    async def local_items(self, uri: str, position: Position) -> list[LocalItem]:
        document = self._documents[uri]
        query = LocalQuery(document.text, position[0], position[1], document.language, document.path, self.texts(uri))
        return await self.local.complete(query)

    async def _answer(
        self, document: Document, ticket: Ticket, chosen: Route, prefix: str, suffix: str, invoked: bool, moved: bool
    ) -> Suggestion | None:
        if document.excluded or self.remote is None or moved:
            return await self._local(document, ticket, chosen.reason, selective=moved)
        if chosen.lane != "local":
            return await self._model(document, ticket, chosen, prefix, suffix, invoked)
        # Mid-expression both lanes start at once: a fair local guess is shown, else the model's answer,
        # which has not waited for the local lane's budget (nor the local lane for the model's).
        model = asyncio.ensure_future(self._model(document, ticket, chosen, prefix, suffix, invoked))
        try:
            local = await self._local(document, ticket, chosen.reason, selective=True)
            return local if local is not None else await model
        finally:
            model.cancel()  # a no-op once it has answered; else the local lane won (or this request ended)

    async def _model(
        self, document: Document, ticket: Ticket, chosen: Route, prefix: str, suffix: str, invoked: bool
    ) -> Suggestion | None:
        """The model's answer: the generation the user is typing along with, else a new one."""
        reused = await self._typed_along(document, ticket, prefix, suffix)
        if reused is not None:
            return reused
        return await self._remote(document, ticket, chosen, prefix, suffix, invoked)

    async def _remote(
        self, document: Document, ticket: Ticket, chosen: Route, prefix: str, suffix: str, invoked: bool
    ) -> Suggestion | None:
        """The remote lane's answer after the debounce; the local lane's if the remote lane is unavailable."""
        if not await self._debounced(document, Trigger.INVOKED if invoked else document.trigger):
            return None
        lane = "multiline" if chosen.lane == "multiline" else "inline"
        trigger: RequestTrigger = "invoked" if invoked else "automatic"
        request = self._request(document, prefix, suffix, lane, trigger=trigger)
        prepared = await self._prepare(document, request)
        self.stats.with_context += bool(prepared.context.snippets)
        if not document.session.is_current(ticket):
            return None  # the user typed on while the context was collected
        try:
            answer = await self._generate(document, prefix, suffix, prepared)
        except RemoteUnavailableError as exc:
            self.stats.remote_errors += 1
            log.warning("remote lane unavailable, answering locally: %s", exc)
            return await self._local(document, ticket, "remote lane unavailable", lane="fallback")
        if answer is None:
            return None
        self.stats.answered_by[f"{answer.lane or lane} · {answer.model}"] += 1
        return Suggestion(answer.text, lane, chosen.reason, ticket, cached_ratio=answer.cached_ratio)

    def _route(self, document: Document, prefix: str, suffix: str, moved: bool) -> Route:
        line_start = prefix.rfind("\n") + 1
        previous_start = prefix.rfind("\n", 0, max(0, line_start - 1)) + 1
        line_end = suffix.find("\n")
        chosen = route(
            prefix[line_start:],
            suffix if line_end < 0 else suffix[:line_end],
            prefix[previous_start : max(previous_start, line_start - 1)],
        )
        if document.excluded:
            chosen = Route("local", "file excluded from upload")
        elif moved:
            chosen = Route("local", "cursor moved without an edit")
        self.stats.routes[chosen.lane, chosen.reason] += 1
        log.debug("route %s: %s (%s)", document.uri, chosen.lane, chosen.reason)
        return chosen

    def _from_cache(self, document: Document, ticket: Ticket, prefix: str, suffix: str) -> Suggestion | None:
        if self.remote is None:
            return None
        hit = self.cache.lookup(self._scope(document), prefix, suffix)
        if hit is None:
            return None
        self.stats.cache_hits += 1
        self.stats.typed_through += hit.typed > 0
        if hit.prefetched_tokens:
            self.stats.prefetch_hits += 1
            self.stats.prefetch_used_tokens += hit.prefetched_tokens
        return Suggestion(hit.text, "cache", "typed through" if hit.typed else "same text", ticket)

    async def _typed_along(self, document: Document, ticket: Ticket, prefix: str, suffix: str) -> Suggestion | None:
        """The answer of a generation the user has been typing along with, minus what was typed."""
        inflight = self._inflight.get(document.uri)
        if inflight is None or inflight.task.done() or not inflight.kept:
            return None
        typed = prefix[len(inflight.prefix) :]
        if suffix != inflight.suffix or not prefix.startswith(inflight.prefix) or "\n" in typed:
            return None
        inflight.kept = False
        answer = await self._wait(document.uri, inflight)
        if answer is None or not answer.text.startswith(typed) or len(answer.text) <= len(typed):
            return None
        self.stats.inflight_reused += 1
        return Suggestion(answer.text[len(typed) :], "inflight", "typed along with the generation", ticket)

    async def _local(
        self, document: Document, ticket: Ticket, reason: str, lane: str = "local", *, selective: bool = False
    ) -> Suggestion | None:
        """The local lane's best item. `selective`: only when it is a fair guess as ghost text (a word is
        partly typed, or there is just one candidate), not the first of an alphabetical member list."""
        line, column = ticket.position
        items = await self.local.complete(
            LocalQuery(document.text, line, column, document.language, document.path, self.texts(document.uri))
        )
        if not items:
            return None
        best = items[0]
        if selective and len(items) > 1 and best.insert == best.label and not best.replace:
            return None
        return Suggestion(best.insert, lane, f"{reason} ({best.source})", ticket, replace=best.replace)

    async def _debounced(self, document: Document, trigger: Trigger) -> bool:
        """Wait out the debounce; False if a keystroke came first (the request is superseded)."""
        delay = document.rhythm.delay_ms(trigger)
        if delay <= 0:
            return True
        timer = asyncio.ensure_future(self.clock.sleep(delay / 1000))
        document.timer = timer
        try:
            await timer
            document.waited = delay / 1000
        except asyncio.CancelledError:
            self.stats.superseded += 1
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the request itself was cancelled (`$/cancelRequest`)
            return False
        return True

    async def _generate(
        self, document: Document, prefix: str, suffix: str, prepared: PreparedRequest
    ) -> RemoteAnswer | None:
        self._cancel(document.uri, "a newer generation")
        task = asyncio.ensure_future(self._timed(prepared))
        inflight = _InFlight(prefix, suffix, task)
        self._inflight[document.uri] = inflight
        self.stats.sent += 1
        answer = await self._wait(document.uri, inflight)
        if answer is not None and answer.text:
            self.cache.store(self._scope(document), prefix, suffix, answer.text)
        return answer

    def _request(
        self,
        document: Document,
        prefix: str,
        suffix: str,
        mode: str,
        *,
        trigger: RequestTrigger,
        background: bool = False,
    ) -> CompletionRequest:
        """The request for the model: what the prompt budget can use of the document around the cursor."""
        return CompletionRequest(
            *upload_window(prefix, suffix, self._window),
            document.language,
            document.key,
            mode="multiline" if mode == "multiline" else "inline",
            # a prefetch has its own session: it never supersedes the user's request
            session_id=f"lsp-prefetch:{document.uri}" if background else f"lsp:{document.uri}",
            trigger=trigger,
            background=background,
        )

    async def _prepare(self, document: Document, request: CompletionRequest) -> PreparedRequest:
        """Redacted, with context from the indexed workspace (excluded files were never indexed; none before
        it is ready). The document's exclusion was decided when it opened."""
        scope = self._scope(document)
        namespace = f"{scope.tenant}\x1f{scope.model}\x1f{scope.tokenizer}"
        return await self.preparation.prepare(
            request, namespace, gather=document.path is not None, excluded=document.excluded
        )

    async def prefetches_settled(self) -> None:
        """Wait for the prefetches in flight to end (tests and benchmarks reading the counters)."""
        await self.prefetches.settled()

    def _prefetch_after(self, document: Document, prefix: str, suffix: str, shown: str) -> None:
        """Ask in the background for the line after a shown suggestion (see `prefetch.py`)."""
        if not self.settings.prefetch or self.remote is None or document.excluded:
            return
        target = next_prefix(prefix, suffix, shown)
        if target is None:
            return
        if self.prefetches.target(document.uri) == target or self.cache.holds(self._scope(document), target, suffix):
            return  # already asked for, or known
        task = asyncio.ensure_future(self._prefetch(document, target, suffix))
        self.stats.prefetch_cancelled += self.prefetches.start(document.uri, target, task)
        self.stats.prefetch_started += 1

    async def _prefetch(self, document: Document, target: str, suffix: str) -> None:
        request = self._request(document, target, suffix, "inline", trigger="automatic", background=True)
        prepared = await self._prepare(document, request)
        try:
            answer = await self._timed(prepared, measured=False)
        except RemoteUnavailableError as exc:
            log.debug("prefetch for %s not answered: %s", document.uri, exc)
            return
        tokens = answer.completion_tokens or 0
        self.stats.prefetch_tokens += tokens
        if answer.text:
            self.cache.store(self._scope(document), target, suffix, answer.text, prefetched=True, tokens=tokens)

    async def _timed(self, prepared: PreparedRequest, measured: bool = True) -> RemoteAnswer:
        """The remote lane's answer (revealed by the lane) within the timeout; `measured`: its serving time
        counts in the stats (not a prefetch's)."""
        assert self.remote is not None
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                answer = await self.remote.complete(prepared)
        except TimeoutError as exc:
            raise RemoteUnavailableError(f"no answer within {self.settings.timeout_s:g} s") from exc
        if measured and answer.first_action_ms is not None:
            self.stats.serving_ms.append(answer.first_action_ms)
        return answer

    async def _wait(self, uri: str, inflight: _InFlight) -> RemoteAnswer | None:
        """The generation's answer; if this request is cancelled and nobody else waits, the generation too."""
        inflight.waiters += 1
        try:
            return await asyncio.shield(inflight.task)
        except asyncio.CancelledError:
            if inflight.task.cancelled():
                return None  # cancelled by a keystroke, not by this request's own cancellation
            if inflight.waiters == 1 and not inflight.kept and self._inflight.get(uri) is inflight:
                self._cancel(uri, "its request was cancelled")
            raise
        finally:
            inflight.waiters -= 1

    def _cancel(self, uri: str, why: str) -> None:
        inflight = self._inflight.pop(uri, None)
        if inflight is not None and not inflight.task.done():
            inflight.task.cancel()
            self.stats.cancelled += 1
            log.debug("generation cancelled for %s: %s", uri, why)

    # -- privacy and keys -------------------------------------------------------------------------------

    def _excludes(self, path: str | None, relative: str | None) -> bool:
        """Whether a file may not leave this machine: the exclusion rules (defaults, configuration, the
        gateway's policy) by name, or a `.keystrokeignore` in its folder or above inside the workspace."""
        if path is None:
            return False
        if self.preparation.rules.excludes_named(relative or path):
            return True
        return relative is not None and self.root is not None and keystroke_ignored(self.root, relative)

    def _relative(self, path: str | None) -> str | None:
        """`path` relative to the workspace root, or None when it lies outside (or there is no root)."""
        if path is None or self.root is None or not Path(path).is_relative_to(self.root):
            return None
        return Path(path).relative_to(self.root).as_posix()

    def _scope(self, document: Document) -> Scope:
        if self.remote is None:
            return Scope(self.tenant, "local", document.key)
        return Scope(self.tenant, self.remote.model, document.key, self.remote.tokenizer_id)

    async def aclose(self) -> None:
        for uri in list(self._inflight):
            self._cancel(uri, "shutting down")
        self.prefetches.cancel_all()
        with contextlib.suppress(Exception):
            await self.feedback.flush()
        if self._watcher is not None:
            self._watcher.stop()
        if self.context is not None:
            self.context.close()
        with contextlib.suppress(Exception):
            if self.remote is not None:
                await self.remote.aclose()
        self.local.close()


def _extends(inflight: _InFlight, text: str, cursor: int) -> bool:
    """Whether `text` with the cursor at `cursor` is the generation's text plus a little typed at its cursor."""
    typed = text[len(inflight.prefix) : cursor]
    return (
        len(inflight.prefix) <= cursor
        and text.startswith(inflight.prefix)
        and text[cursor:] == inflight.suffix
        and "\n" not in typed
        and len(typed) <= MAX_TYPED_ALONG
    )
