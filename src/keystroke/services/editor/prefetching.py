"""Prefetching for the editor: after a suggestion that ends its line is shown, the next line is asked for in
the background and kept in the result cache for the moment the user gets there (`prefetch.py` predicts the
text and keeps one prefetch per document; an edit that leaves the prediction cancels it). Not thread-safe."""

from __future__ import annotations

import asyncio
import logging

from keystroke.domain.editor.result_cache import ResultCache
from keystroke.errors import RemoteUnavailableError
from keystroke.services.editor.documents import Document
from keystroke.services.editor.stats import EditorStats
from keystroke.services.editor.uploads import Uploads
from keystroke.services.prefetch import Prefetches, next_prefix

log = logging.getLogger(__name__)


class Prefetching:
    def __init__(self, uploads: Uploads, cache: ResultCache, stats: EditorStats, *, enabled: bool) -> None:
        self.uploads = uploads
        self.cache = cache
        self.stats = stats
        self.enabled = enabled
        self.running = Prefetches()

    def after_shown(self, document: Document, prefix: str, suffix: str, shown: str, now: float) -> None:
        """Ask in the background for the line after a suggestion shown at `prefix` | `suffix`."""
        if not self.enabled or self.uploads.remote is None or document.excluded:
            return
        target = next_prefix(prefix, suffix, shown)
        if target is None:
            return
        known = self.cache.holds(self.uploads.scope(document), target, suffix)
        if known or self.running.target(document.uri) == target:
            return  # already asked for, or known
        task = asyncio.ensure_future(self._prefetch(document, target, suffix, now))
        self.stats.prefetch_cancelled += self.running.start(document.uri, target, task)
        self.stats.prefetch_started += 1

    def edited(self, uri: str, text: str, cursor: int) -> None:
        """The document changed: a prefetch whose prediction it leaves is cancelled."""
        self.stats.prefetch_cancelled += self.running.edited(uri, text, cursor)

    def cancel(self, uri: str) -> None:
        self.running.cancel(uri)

    def cancel_all(self) -> None:
        self.running.cancel_all()

    async def settled(self) -> None:
        """Wait for the prefetches in flight to end (tests and benchmarks reading the counters)."""
        await self.running.settled()

    async def _prefetch(self, document: Document, target: str, suffix: str, now: float) -> None:
        uploads = self.uploads
        request = uploads.request(document, target, suffix, "inline", "automatic", background=True)
        prepared = await uploads.prepare(document, request, now)
        try:
            answer = await uploads.ask(prepared, measured=False)
        except RemoteUnavailableError as exc:
            log.debug("prefetch for %s not answered: %s", document.uri, exc)
            return
        tokens = answer.completion_tokens or 0
        self.stats.prefetch_tokens += tokens
        if answer.text:
            self.cache.store(uploads.scope(document), target, suffix, answer.text, prefetched=True, tokens=tokens)
