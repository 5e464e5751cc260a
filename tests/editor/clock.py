"""A clock the test moves by hand: `sleep` returns only when `advance` passes its deadline."""

from __future__ import annotations

import asyncio


class ManualClock:
    def __init__(self) -> None:
        self.time = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.time + seconds, future))
        await future

    @property
    def sleeping(self) -> int:
        return sum(not future.done() for _, future in self._sleepers)

    async def advance(self, seconds: float) -> None:
        self.time += seconds
        for due, future in self._sleepers:
            if due <= self.time and not future.done():
                future.set_result(None)
        self._sleepers = [(due, f) for due, f in self._sleepers if not f.done()]
        await settle()


async def settle(rounds: int = 20) -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(rounds):
        await asyncio.sleep(0)
