"""One open document as the language server sees it: its version, the cursor, and the requests made for it.

Every completion request gets the next id of its document (monotonically increasing) and remembers the
document version and cursor it was computed for. A result may be shown only if, when it arrives, its request is
still the document's newest and the document is still at that version with the cursor at that place: anything
else is stale and is dropped, however good it is. A new keystroke supersedes the newest request (its debounce
timer and its in-flight generation are cancelled by the caller, which holds them).
"""

from __future__ import annotations

from dataclasses import dataclass

Position = tuple[int, int]  # (line, column), 0-based, the column in code points


@dataclass(frozen=True)
class Ticket:
    """What a request was computed for."""

    uri: str
    request_id: int
    version: int
    position: Position


class DocumentSession:
    """Not thread-safe: the language server drives every session from its one event loop."""

    def __init__(self, uri: str, version: int = 0) -> None:
        self.uri = uri
        self.version = version
        self.position: Position | None = None
        self._next_id = 0
        self.newest: Ticket | None = None
        self.superseded = 0

    def changed(self, version: int) -> None:
        """The text changed: every request made so far is for an older version."""
        self.version = version

    def moved(self, position: Position) -> bool:
        """Whether a request at `position` only follows the cursor: the text is as the previous request saw
        it, and the cursor is elsewhere (a click or an arrow key, not typing)."""
        return self.newest is not None and self.newest.version == self.version and self.newest.position != position

    def ticket(self, position: Position) -> Ticket:
        """A new request at `position` of the current version; it supersedes the previous one."""
        self._next_id += 1
        if self.newest is not None:
            self.superseded += 1
        self.position = position
        self.newest = Ticket(self.uri, self._next_id, self.version, position)
        return self.newest

    def is_current(self, ticket: Ticket) -> bool:
        """Whether a result computed for `ticket` may be shown now."""
        return (
            self.newest is not None
            and ticket.request_id == self.newest.request_id
            and ticket.version == self.version
            and ticket.position == self.position
        )
