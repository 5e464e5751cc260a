"""Streamed answers as the gateway sends them: the completion stream's events framed (`wire.encode_event`),
and for every stream (this one and `/infill`'s) one rule for a failure after the response started: the
status line is already sent, so the error goes in-band, as the stream's last frame."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from keystroke.services.types import CompletionEvent, Finished
from keystroke.transports.http.errors import error_for
from keystroke.transports.http.wire import ErrorDetail, encode_error, encode_event


async def guarded(frames: AsyncIterator[bytes], error: Callable[[ErrorDetail], bytes]) -> AsyncIterator[bytes]:
    """`frames`, then, if they fail, the error framed by `error` (mapped as the HTTP layer maps it)."""
    try:
        async for chunk in frames:
            yield chunk
    except Exception as exc:
        _, detail = error_for(exc)
        yield error(detail)


def event_stream(events: AsyncIterator[CompletionEvent]) -> AsyncIterator[bytes]:
    """The completion stream: first_action, delta..., done; or a final `error` event."""
    return guarded(_encoded(events), encode_error)


async def _encoded(events: AsyncIterator[CompletionEvent]) -> AsyncIterator[bytes]:
    async for event in events:
        yield encode_event(event)
        if isinstance(event, Finished):
            return
