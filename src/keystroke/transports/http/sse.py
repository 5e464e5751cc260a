"""Server-Sent Events framing of the completion stream: first_action, delta..., done (or error)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from keystroke.services.types import CompletionEvent, Delta, Finished, FirstAction
from keystroke.transports.http.errors import error_for
from keystroke.transports.http.schemas import CompletionResponse


def frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def encode(event: CompletionEvent) -> bytes:
    if isinstance(event, FirstAction):
        fields = {"id": event.id, "text": event.text, "first_action_ms": event.at_ms}
        return frame("first_action", {**fields, "lane": event.lane, "model": event.model})
    if isinstance(event, Delta):
        return frame("delta", {"text": event.text})
    return frame("done", CompletionResponse.of(event.result).model_dump())


async def event_stream(events: AsyncIterator[CompletionEvent]) -> AsyncIterator[bytes]:
    """Frame every event; an error after the response started becomes a final `error` event."""
    try:
        async for event in events:
            yield encode(event)
            if isinstance(event, Finished):
                return
    except Exception as exc:  # the status line is already sent; report in-band
        _, detail = error_for(exc)
        yield frame("error", {"error": detail.model_dump()})
