"""Prefetch ("next action prediction"): ask ahead for what the user will want after accepting a suggestion.

When a suggestion that ends its line is shown, the user will most likely accept it and press Enter; the next
request will then be at the start of the following line. The editor service asks for that one at once, in the
background (the serving side computes it after all other work and drops it at a token boundary whenever other
work waits), and stores the answer in the result cache under the text it expects. When the user gets there,
the request is answered from the cache; the model writes the new line's indentation, which the editor's
auto-indent (or the user) then types through.

`next_prefix` is the prediction; `Prefetches` holds one pending prefetch per document and drops it when an
edit leaves the predicted text (the user typed something other than the suggestion). Counted in the editor's
stats: prefetches started, cancelled, hit (served from the cache), tokens decoded for them and, of those,
wasted (never served). Used from the language server's event loop only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


def next_prefix(prefix: str, suffix: str, text: str) -> str | None:
    """The text before the cursor after accepting `text` and pressing Enter; None when that cannot be told
    (code follows the cursor on its line, or the suggestion is blank)."""
    line_end = suffix.find("\n")
    rest_of_line = suffix if line_end < 0 else suffix[:line_end]
    if rest_of_line.strip() or not text.strip():
        return None
    return prefix + text + "\n"


def still_useful(target: str, prefix: str) -> bool:
    """Whether a prefetch for `target` can still be served once the text before the cursor is `prefix`: the
    user is typing along the suggestion (or accepted it), or has reached the predicted place and goes on."""
    return target.startswith(prefix) or prefix.startswith(target)


@dataclass
class _Pending:
    target: str
    task: asyncio.Future[None]


class Prefetches:
    """At most one prefetch in flight per document."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def start(self, uri: str, target: str, task: asyncio.Future[None]) -> bool:
        """Track a new prefetch for `uri`; True when it replaced (cancelled) one still running."""
        replaced = self.cancel(uri)
        self._pending[uri] = _Pending(target, task)
        task.add_done_callback(lambda done: self._forget(uri, done))
        return replaced

    def target(self, uri: str) -> str | None:
        """What the document's prefetch in flight is for, if one is."""
        pending = self._pending.get(uri)
        return pending.target if pending is not None else None

    def edited(self, uri: str, text: str, cursor: int) -> bool:
        """The document reads `text` with the cursor at `cursor`: cancel its prefetch if that leaves the
        prediction; True when one was cancelled. Nothing is copied unless a prefetch is pending (every
        keystroke comes here)."""
        pending = self._pending.get(uri)
        if pending is None or still_useful(pending.target, text[:cursor]):
            return False
        return self.cancel(uri)

    def cancel(self, uri: str) -> bool:
        pending = self._pending.pop(uri, None)
        if pending is None or pending.task.done():
            return False
        pending.task.cancel()
        return True

    async def settled(self) -> None:
        """Wait until no prefetch is in flight."""
        while self._pending:
            await asyncio.gather(*(pending.task for pending in list(self._pending.values())), return_exceptions=True)

    def cancel_all(self) -> None:
        for uri in list(self._pending):
            self.cancel(uri)

    def _forget(self, uri: str, task: asyncio.Future[None]) -> None:
        pending = self._pending.get(uri)
        if pending is not None and pending.task is task:
            del self._pending[uri]
