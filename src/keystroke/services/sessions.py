"""Supersession on the serving side: a newer request of the same session cancels the older one, end to end.

For requests that crossed a process boundary (the gateway's routes); a language server with the engine in its
process supersedes its own generations (`editor/generations.py`), so one owner decides for each request.

Holds one cancel token per session with a request in flight (so its size is bounded by the requests in
flight). Used from the event loop only; not thread-safe.
"""

from __future__ import annotations

from keystroke.domain.engines.base import CancelToken

SUPERSEDED = "superseded by a newer request of the same session"


class SessionRegistry:
    def __init__(self) -> None:
        self._active: dict[str, CancelToken] = {}

    def begin(self, session_id: str | None, token: CancelToken) -> None:
        if session_id is None:
            return
        previous = self._active.get(session_id)
        if previous is not None:
            previous.cancel(SUPERSEDED)
        self._active[session_id] = token

    def end(self, session_id: str | None, token: CancelToken) -> None:
        if session_id is not None and self._active.get(session_id) is token:
            del self._active[session_id]

    def __len__(self) -> int:
        return len(self._active)
