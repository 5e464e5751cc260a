"""The editor session service: what the language server does between a keystroke and a shown suggestion.

Its rooms: the documents (`documents.py`: text kept current by the editor's incremental changes, version,
typing rhythm, exclusion), the generations in flight (`generations.py`: one per document, the one owner of
supersession), what leaves for the model (`uploads.py`: the request at the cursor, prepared once, asked), the
prefetches (`prefetching.py`) and the result cache; this module is the hallway between them. Each suggestion
request is one `Ask` (the document, its ticket, the text around the cursor, the route) that goes through, in
order:

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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from keystroke.config import Settings
from keystroke.domain.context.index import IndexSummary, Progress
from keystroke.domain.context.token_estimate import EstimatedTokenizer
from keystroke.domain.editor.edits import Units
from keystroke.domain.editor.result_cache import ResultCache
from keystroke.domain.editor.router import Route, route_at
from keystroke.domain.editor.session import Position, Ticket
from keystroke.domain.editor.triggers import DebounceSettings, Trigger
from keystroke.domain.editor.window import window_chars
from keystroke.errors import RemoteUnavailableError
from keystroke.services.context import ContextService, typing_thresholds
from keystroke.services.editor.documents import Document, Documents, Edit
from keystroke.services.editor.generations import Generations
from keystroke.services.editor.health import LaneHealth
from keystroke.services.editor.prefetching import Prefetching
from keystroke.services.editor.stats import EditorStats, Suggestion
from keystroke.services.editor.uploads import Uploads
from keystroke.services.feedback import Feedback, TelemetrySink
from keystroke.services.local_lane import LocalItem, LocalLane, LocalQuery
from keystroke.services.preparation import Preparation, PreparedRequest
from keystroke.services.remote_lane import RemoteAnswer, RemoteLane
from keystroke.services.types import Trigger as RequestTrigger
from keystroke.services.workspace import Workspace

log = logging.getLogger(__name__)
NO_ROUTE = Route("local", "not routed yet")


class EditorClock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Ask:
    """One suggestion request on its way: what every step needs to know about it."""

    document: Document
    ticket: Ticket
    prefix: str  # the document's text before the cursor (all of it: the upload window is cut later)
    suffix: str
    invoked: bool  # the user asked explicitly
    moved: bool  # a request after a cursor move without an edit
    route: Route = NO_ROUTE

    @property
    def current(self) -> bool:
        """Whether the document is still at the version and cursor this request was made for."""
        return self.document.session.is_current(self.ticket)


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
        self.clock = clock or SystemClock()
        self.cache = ResultCache(self.settings.cache_entries, self.settings.cache_ttl_s, self.clock.now)
        self.stats = EditorStats()
        self.feedback = Feedback(telemetry, self.clock.now)
        preparation = Preparation(settings)  # exclusion, redaction and context, before upload
        debounce = DebounceSettings(
            self.settings.debounce_ms, self.settings.debounce_min_ms, self.settings.debounce_max_ms
        )
        self.documents = Documents(preparation.rules, root, debounce, typing_thresholds(settings.context))
        self.generations = Generations(self.stats)
        window = window_chars(settings.prompt.budget_tokens)  # what of a huge file goes to the model
        self.health = LaneHealth()  # whether the remote lane answers (the editor's status)
        self.uploads = Uploads(remote, preparation, self.settings, tenant, window, self.stats, self.health)
        self.prefetching = Prefetching(self.uploads, self.cache, self.stats, enabled=self.settings.prefetch)
        self.workspace: Workspace | None = None  # the root's, once indexed (`index_workspace`)

    @property
    def root(self) -> Path | None:
        """The workspace folder (set by the language server from its client when not configured)."""
        return self.documents.root

    @root.setter
    def root(self, folder: Path | None) -> None:
        self.documents.root = folder

    @property
    def preparation(self) -> Preparation:
        """Exclusion, redaction and context before upload (the serving side's policy added at `connect`)."""
        return self.uploads.preparation

    @property
    def context(self) -> ContextService | None:
        """The workspace's context service, once indexed."""
        return self.preparation.context

    async def warm_up(self) -> None:
        """Load what the local lane needs, so the first answer is not the slowest."""
        await self.local.warm_up()

    async def flush_telemetry(self) -> None:
        """Send the telemetry events gathered so far to the serving side."""
        await self.feedback.flush()

    def report(self) -> dict[str, object]:
        """The counters (`keystroke/stats`): the stats, the result cache's size, the local lane's Jedi use."""
        local = self.local
        return {
            **self.stats.as_json(),
            "cache_entries": len(self.cache),
            "local_warm": local.warm,
            "workspace_indexed": self.context is not None,
            "jedi_calls": local.jedi_calls,
            "jedi_kept": local.jedi_kept,
            "jedi_late": local.jedi_late,
            "health": self.health.current.as_json(),
        }

    def status(self, uri: str | None) -> dict[str, object]:
        """What the editor's status shows (`keystroke/status`): the remote lane's health and, for a document,
        whether it is excluded from upload (answered by the local lane only)."""
        document = self.documents.get(uri) if uri is not None else None
        return {**self.health.current.as_json(), "excluded": None if document is None else document.excluded}

    async def connect(self) -> None:
        """Learn the remote lane's model and privacy policy; the policy's exclusions and secret patterns are
        added to this editor's own (they can only add), and open documents are checked again."""
        if self.remote is None:
            return
        try:
            policy = await self.remote.connect()
        except RemoteUnavailableError as exc:
            self.health.failed(exc)
            raise
        self.health.answered()
        log.info("remote lane serves %s", self.remote.model)
        if not policy.exclude and not policy.patterns:
            return
        self.uploads.preparation = Preparation(
            self._all_settings, self.preparation.context, policy_exclude=policy.exclude, policy_patterns=policy.patterns
        )
        self.documents.tighten(self.preparation.rules)

    async def index_workspace(self, progress: Progress | None = None) -> IndexSummary | None:
        """Index the workspace root (reloaded from the cache when it was indexed before) and from then on send
        context from it with every request to the model; follow file changes (`context.watch`). None when
        there is nothing to index for (no root, no remote lane); ConfigError when the root holds more than
        `editor.index_max_files` files (a home folder rather than a project)."""
        if self.root is None or self.remote is None:
            return None
        tokenizer = self.remote.tokenizer or EstimatedTokenizer()
        self.workspace = await asyncio.to_thread(
            Workspace.open, self._all_settings, tokenizer, root=self.root, progress=progress,
            max_files=self.settings.index_max_files,
        )  # fmt: skip
        self.preparation.context = self.workspace.context
        return self.workspace.index.last_summary

    # -- documents ---------------------------------------------------------------------------------------

    def open(
        self, uri: str, text: str, version: int, language: str | None, path: str | None = None, units: Units = "utf-16"
    ) -> Document:
        """Track a document (`units`: how the editor counts columns in its changes)."""
        return self.documents.open(uri, text, version, language, path, units)

    def change(self, uri: str, version: int, edits: Sequence[Edit] | str) -> None:
        """The editor changed the document (its incremental changes, or its whole new text): supersede its
        pending request, keep or cancel its generation, its prefetch and the cached answers it invalidates."""
        document = self.documents[uri]
        change = document.apply(version, [edits] if isinstance(edits, str) else edits, self.clock.now())
        self.stats.keystrokes += 1
        self.prefetching.edited(uri, document.text, change.cursor)
        self.feedback.edited(uri, change.start, change.removed, change.inserted)
        if max(len(change.inserted), len(change.removed)) >= self.settings.large_edit_chars:
            self.cache.invalidate(document.key)
        self.generations.edited(uri, document.text, change)

    def save(self, uri: str) -> None:
        document = self.documents.get(uri)
        if document is not None:
            self.cache.invalidate(document.key)

    def close(self, uri: str) -> None:
        self.generations.cancel(uri, "document closed")
        self.prefetching.cancel(uri)
        self.feedback.closed(uri)
        self.documents.close(uri)

    def document(self, uri: str) -> Document | None:
        return self.documents.get(uri)

    def texts(self, but: str) -> tuple[str, ...]:
        return self.documents.texts(but)

    # -- suggestions ----------------------------------------------------------------------------------

    async def suggest(self, uri: str, position: Position, offset: int, invoked: bool = False) -> Suggestion | None:
        """The suggestion to show at `offset` of the text; `position` is the same place as (line, column),
        both in code points."""
        document = self.documents[uri]
        moved = document.session.moved(position) and not invoked
        ask = Ask(document, document.session.ticket(position), document.text[:offset], document.text[offset:],
                  invoked, moved)  # fmt: skip
        self.stats.requests += 1
        self.stats.invoked += invoked
        started, document.waited = self.clock.now(), 0.0
        ask.route = self._route(ask)
        found = None if invoked else self._from_cache(ask)
        if found is None:
            found = await self._answer(ask)
        if found is None or not found.text:
            if ask.current:  # else the request was superseded: the user typed on before any answer was due
                self.feedback.outcome("abstained", ask.route.lane, document.language)
            return None
        if not ask.current:
            self.stats.stale += 1
            self.feedback.outcome("stale", str(found.lane), document.language)
            return None
        return self._shown(ask, replace(found, latency_ms=(self.clock.now() - started - document.waited) * 1000))

    def _shown(self, ask: Ask, found: Suggestion) -> Suggestion:
        self.stats.shown += 1
        self.stats.lanes[str(found.lane)] += 1
        self.stats.latency_ms[str(found.lane)].append(found.latency_ms)
        document = ask.document
        self.feedback.shown(document.uri, found.id, str(found.lane), document.language, len(ask.prefix),
                            found.replace, found.text, found.latency_ms)  # fmt: skip
        if found.lane in ("inline", "multiline", "cache", "inflight") and not found.replace:
            self.prefetching.after_shown(document, ask.prefix, ask.suffix, found.text, self.clock.now())
        return found

    def accepted(self, suggestion_id: str, start: int | None = None, chars: int | None = None) -> bool:
        """The user accepted a shown suggestion: all of it, or `chars` characters inserted at `start`."""
        known = self.feedback.accepted(suggestion_id, start, chars)
        self.stats.accepted += known
        return known

    def dismissed(self, suggestion_id: str) -> bool:
        return self.feedback.dismissed(suggestion_id)

    async def local_items(self, uri: str, position: Position) -> list[LocalItem]:
        document = self.documents[uri]
        query = LocalQuery(document.text, position[0], position[1], document.language, document.path, self.texts(uri))
        return await self.local.complete(query)

    async def _answer(self, ask: Ask) -> Suggestion | None:
        if ask.document.excluded or self.remote is None or ask.moved:
            return await self._local(ask, ask.route.reason, selective=ask.moved)
        if ask.route.lane != "local":
            return await self._model(ask)
        # Mid-expression both lanes start at once: a fair local guess is shown, else the model's answer,
        # which has not waited for the local lane's budget (nor the local lane for the model's).
        model = asyncio.ensure_future(self._model(ask))
        try:
            local = await self._local(ask, ask.route.reason, selective=True)
            return local if local is not None else await model
        finally:
            model.cancel()  # a no-op once it has answered; else the local lane won (or this request ended)

    async def _model(self, ask: Ask) -> Suggestion | None:
        """The model's answer: the generation the user is typing along with, else a new one."""
        reused = await self._typed_along(ask)
        if reused is not None:
            return reused
        return await self._remote(ask)

    async def _remote(self, ask: Ask) -> Suggestion | None:
        """The remote lane's answer after the debounce; the local lane's if the remote lane is unavailable."""
        if not await self._debounced(ask.document, Trigger.INVOKED if ask.invoked else ask.document.trigger):
            return None
        lane = "multiline" if ask.route.lane == "multiline" and self.settings.multiline else "inline"
        trigger: RequestTrigger = "invoked" if ask.invoked else "automatic"
        request = self.uploads.request(ask.document, ask.prefix, ask.suffix, lane, trigger)
        prepared = await self.uploads.prepare(ask.document, request, self.clock.now())
        self.stats.with_context += bool(prepared.context.snippets)
        if not ask.current:
            return None  # the user typed on while the context was collected
        try:
            answer = await self._generate(ask, prepared)
        except RemoteUnavailableError as exc:
            self.stats.remote_errors += 1
            log.warning("remote lane unavailable, answering locally: %s", exc)
            return await self._local(ask, "remote lane unavailable", lane="fallback")
        if answer is None:
            return None
        self.stats.answered_by[f"{answer.lane or lane} · {answer.model}"] += 1
        return Suggestion(answer.text, lane, ask.route.reason, ask.ticket, cached_ratio=answer.cached_ratio)

    def _route(self, ask: Ask) -> Route:
        chosen = route_at(ask.prefix, ask.suffix)
        if ask.document.excluded:
            chosen = Route("local", "file excluded from upload")
        elif ask.moved:
            chosen = Route("local", "cursor moved without an edit")
        self.stats.routes[chosen.lane, chosen.reason] += 1
        log.debug("route %s: %s (%s)", ask.document.uri, chosen.lane, chosen.reason)
        return chosen

    def _from_cache(self, ask: Ask) -> Suggestion | None:
        if self.remote is None:
            return None
        hit = self.cache.lookup(self.uploads.scope(ask.document), ask.prefix, ask.suffix)
        if hit is None:
            return None
        self.stats.cache_hits += 1
        self.stats.typed_through += hit.typed > 0
        if hit.prefetched_tokens:
            self.stats.prefetch_hits += 1
            self.stats.prefetch_used_tokens += hit.prefetched_tokens
        return Suggestion(hit.text, "cache", "typed through" if hit.typed else "same text", ask.ticket)

    async def _typed_along(self, ask: Ask) -> Suggestion | None:
        """The answer of a generation the user has been typing along with, minus what was typed."""
        found = self.generations.typed_along(ask.document.uri, ask.prefix, ask.suffix)
        if found is None:
            return None
        inflight, typed = found
        answer = await self.generations.wait(ask.document.uri, inflight)
        if answer is None or not answer.text.startswith(typed) or len(answer.text) <= len(typed):
            return None
        self.stats.inflight_reused += 1
        return Suggestion(answer.text[len(typed) :], "inflight", "typed along with the generation", ask.ticket)

    async def _local(self, ask: Ask, reason: str, lane: str = "local", *, selective: bool = False) -> Suggestion | None:
        """The local lane's best item. `selective`: only when it is a fair guess as ghost text (a word is
        partly typed, or there is just one candidate), not the first of an alphabetical member list."""
        document = ask.document
        line, column = ask.ticket.position
        items = await self.local.complete(
            LocalQuery(document.text, line, column, document.language, document.path, self.texts(document.uri))
        )
        if not items:
            return None
        best = items[0]
        if selective and len(items) > 1 and best.insert == best.label and not best.replace:
            return None
        return Suggestion(best.insert, lane, f"{reason} ({best.source})", ask.ticket, replace=best.replace)

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

    async def _generate(self, ask: Ask, prepared: PreparedRequest) -> RemoteAnswer | None:
        """The document's new generation (superseding its previous one), awaited; its answer is cached."""
        uri = ask.document.uri
        inflight = self.generations.start(uri, ask.prefix, ask.suffix, self.uploads.ask(prepared))
        answer = await self.generations.wait(uri, inflight)
        if answer is not None and answer.text:
            self.cache.store(self.uploads.scope(ask.document), ask.prefix, ask.suffix, answer.text)
        return answer

    async def prefetches_settled(self) -> None:
        """Wait for the prefetches in flight to end (tests and benchmarks reading the counters)."""
        await self.prefetching.settled()

    async def aclose(self) -> None:
        self.generations.cancel_all("shutting down")
        self.prefetching.cancel_all()
        with contextlib.suppress(Exception):
            await self.feedback.flush()
        if self.workspace is not None:
            self.workspace.close()
        with contextlib.suppress(Exception):
            if self.remote is not None:
                await self.remote.aclose()
        self.local.close()
