"""Fault injection for the remote lane: a lane that holds every request until it is let go.

`GatedLane` wraps a real remote lane. Each request waits at a gate before the real lane sees it, so a test (or
a user reproducing a slow network) decides when answers arrive: after the user typed on, after a save, never.
`release()` opens the gate for the requests waiting now (`release(all_later=True)`: for every later one too);
`fail_next()` makes the next request fail as a gateway that went down would. Not selectable from
configuration; build it around a real lane in code.
"""

from __future__ import annotations

import asyncio

from keystroke.domain.engines.base import Tokenizer
from keystroke.errors import RemoteUnavailableError
from keystroke.services.preparation import PreparedRequest
from keystroke.services.remote_lane import RemoteAnswer, RemoteLane, RemotePolicy
from keystroke.services.types import CompletionRequest


class GatedLane:
    def __init__(self, inner: RemoteLane) -> None:
        self.inner = inner
        self.started: list[CompletionRequest] = []  # every request that reached the lane
        self.finished = 0
        self.cancelled = 0
        self.failed = 0
        self._gate = asyncio.Event()
        self._open = False
        self._failures = 0

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self.inner.tokenizer

    @property
    def tokenizer_id(self) -> str:
        return self.inner.tokenizer_id

    @property
    def waiting(self) -> int:
        return len(self.started) - self.finished - self.cancelled - self.failed

    def release(self, all_later: bool = False) -> None:
        self._gate.set()
        self._gate = asyncio.Event()
        self._open = all_later

    def fail_next(self) -> None:
        self._failures += 1

    async def connect(self) -> RemotePolicy:
        return await self.inner.connect()

    async def complete(self, prepared: PreparedRequest) -> RemoteAnswer:
        self.started.append(prepared.request)
        try:
            if not self._open:
                await self._gate.wait()
            if self._failures:
                self._failures -= 1
                raise RemoteUnavailableError("gateway went away (injected)")
            answer = await self.inner.complete(prepared)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        except RemoteUnavailableError:
            self.failed += 1
            raise
        self.finished += 1
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()
