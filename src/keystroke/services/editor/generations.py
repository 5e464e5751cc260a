"""The generations in flight on the remote lane: at most one per document, and the one owner of supersession.

A new generation for a document cancels the one before it; an edit either extends the running generation's
text (a few characters typed at its cursor, nothing removed: the user is typing along with what it will
suggest, so it is kept and its answer reused minus what was typed) or cancels it; a request that is cancelled
itself (`$/cancelRequest`) cancels its generation when nobody else waits for it. Cancelling the task closes
the lane's stream, and the engine stops decoding within a token. The completion service does not supersede
requests that come from here again (only requests that crossed a process boundary carry a session to it).

Not thread-safe: one event loop drives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from keystroke.domain.editor.edits import Change
from keystroke.services.editor.stats import EditorStats
from keystroke.services.remote_lane import RemoteAnswer

log = logging.getLogger(__name__)

MAX_TYPED_ALONG = 40  # characters typed into an in-flight generation before it is given up


@dataclass
class InFlight:
    """A generation running on the remote lane, for the text `prefix` | `suffix`."""

    prefix: str
    suffix: str
    task: asyncio.Task[RemoteAnswer]
    waiters: int = 0
    kept: bool = False  # the user typed along with it: the next request reuses it

    def extended_by(self, text: str, change: Change) -> bool:
        """Whether `text` after `change` is this generation's text plus a little typed at its cursor."""
        cursor = change.cursor
        typed = text[len(self.prefix) : cursor]
        return (
            change.removed == ""
            and len(self.prefix) <= cursor
            and text.startswith(self.prefix)
            and text[cursor:] == self.suffix
            and "\n" not in typed
            and len(typed) <= MAX_TYPED_ALONG
        )


class Generations:
    """The running generation of each document; counts `sent` and `cancelled` in `stats`."""

    def __init__(self, stats: EditorStats) -> None:
        self._running: dict[str, InFlight] = {}
        self.stats = stats

    def start(self, uri: str, prefix: str, suffix: str, work: Coroutine[Any, Any, RemoteAnswer]) -> InFlight:
        """Run `work` as the document's generation, superseding the one before it."""
        self.cancel(uri, "a newer generation")
        inflight = InFlight(prefix, suffix, asyncio.ensure_future(work))
        self._running[uri] = inflight
        self.stats.sent += 1
        return inflight

    def edited(self, uri: str, text: str, change: Change) -> None:
        """The document changed: keep its generation if the user is typing along with it, else cancel it."""
        inflight = self._running.get(uri)
        if inflight is None or inflight.task.done():
            return
        if inflight.extended_by(text, change):
            inflight.kept = True
        else:
            self.cancel(uri, "an edit that does not extend its text")

    def typed_along(self, uri: str, prefix: str, suffix: str) -> tuple[InFlight, str] | None:
        """The generation the user has been typing along with up to `prefix` | `suffix`, and what was typed;
        taken (the next request does not reuse it again)."""
        inflight = self._running.get(uri)
        if inflight is None or inflight.task.done() or not inflight.kept:
            return None
        typed = prefix[len(inflight.prefix) :]
        if suffix != inflight.suffix or not prefix.startswith(inflight.prefix) or "\n" in typed:
            return None
        inflight.kept = False
        return inflight, typed

    async def wait(self, uri: str, inflight: InFlight) -> RemoteAnswer | None:
        """The generation's answer (None if a keystroke cancelled it); if the waiting request is cancelled
        itself and nobody else waits, the generation is cancelled too."""
        inflight.waiters += 1
        try:
            return await asyncio.shield(inflight.task)
        except asyncio.CancelledError:
            if inflight.task.cancelled():
                return None  # cancelled by a keystroke, not by this request's own cancellation
            if inflight.waiters == 1 and not inflight.kept and self._running.get(uri) is inflight:
                self.cancel(uri, "its request was cancelled")
            raise
        finally:
            inflight.waiters -= 1

    def cancel(self, uri: str, why: str) -> None:
        inflight = self._running.pop(uri, None)
        if inflight is not None and not inflight.task.done():
            inflight.task.cancel()
            self.stats.cancelled += 1
            log.debug("generation cancelled for %s: %s", uri, why)

    def cancel_all(self, why: str) -> None:
        for uri in list(self._running):
            self.cancel(uri, why)
