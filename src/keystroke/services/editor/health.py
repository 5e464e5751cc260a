"""Whether the remote lane answers, for the editor's status: `ready`, or why not and since when.

Every ask of the remote lane (and the first `connect`) reports here; a change of state is told to the
listener (the language server sends it to the editor as a `keystroke/health` notification), so the editor's
status follows the gateway without polling, and a run of failures is one change, not a message each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from keystroke.errors import RemoteCause, RemoteUnavailableError


@dataclass(frozen=True)
class Health:
    state: Literal["ready"] | RemoteCause  # "ready", or why the remote lane does not answer (the local lane does)
    detail: str = ""  # what went wrong, as the lane said it (never code: errors carry status and reason only)

    def as_json(self) -> dict[str, str]:
        return {"state": self.state, "detail": self.detail}


READY = Health("ready")


class LaneHealth:
    def __init__(self) -> None:
        self.current = READY
        self.listener: Callable[[Health], None] | None = None

    def answered(self) -> None:
        self._become(READY)

    def failed(self, error: RemoteUnavailableError) -> None:
        self._become(Health(error.cause, str(error)))

    def _become(self, health: Health) -> None:
        changed = health.state != self.current.state
        self.current = health
        if changed and self.listener is not None:
            self.listener(health)
