"""Server-Sent Events, the framing every streamed answer here uses: keystroke's gateway (`event:` names with
JSON `data:`), llama-server's `/infill` (unnamed `data:` frames) and OpenAI-compatible engines (`data:` chunks,
then `data: [DONE]`).

`frame` writes one event; `SseDecoder` reads them back line by line, from a synchronous or an asynchronous
reader alike. Only the parts of the format these peers use: `event:` and `data:` fields (several `data:`
lines of one event are joined with newlines), a blank line ends an event, comments (`:`) and other fields
are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

MESSAGE = "message"  # an event's name when it has no `event:` field


@dataclass(frozen=True)
class SseEvent:
    name: str
    data: str


def frame(data: str, name: str | None = None) -> bytes:
    """One event: `event: name` (when named), the data (one `data:` line per line of it), a blank line."""
    head = f"event: {name}\n" if name else ""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{lines}\n".encode()


class SseDecoder:
    """Feed it the stream's lines (without their line ends); it returns an event when one is complete."""

    def __init__(self) -> None:
        self._name = MESSAGE
        self._data: list[str] = []

    def feed(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        return None

    def end(self) -> SseEvent | None:
        """The last event of a stream that ended without its blank line, if any."""
        return self._dispatch()

    def _dispatch(self) -> SseEvent | None:
        event = SseEvent(self._name, "\n".join(self._data)) if self._data else None
        self._name, self._data = MESSAGE, []
        return event


async def read_events(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """The events of an asynchronous stream of lines."""
    decoder = SseDecoder()
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
    last = decoder.end()
    if last is not None:
        yield last
