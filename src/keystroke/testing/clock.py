"""A clock the test (or a replay) moves by hand, for everything in keystroke that takes a clock.

It is a plain clock (`clock()`, what admission, caches, context and the scheduler's deadlines take) and an
editor clock (`now()` and `await sleep(s)`, what debounce takes). A sleeper wakes only when `advance` moves
time past its deadline, so a test decides exactly when a debounce ends; with `sleeps_pass_time=True` a sleep
moves time itself and returns at once (for code that sleeps between periodic jobs).
"""

from __future__ import annotations

import asyncio


class ManualClock:
    def __init__(self, start: float = 0.0, *, sleeps_pass_time: bool = False) -> None:
        self.time = start
        self.sleeps_pass_time = sleeps_pass_time
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.time

    def now(self) -> float:
        return self.time

    def tick(self, seconds: float) -> None:
        """Move time on, without waking sleepers (for code that only reads the clock)."""
        self.time += seconds

    async def sleep(self, seconds: float) -> None:
        if self.sleeps_pass_time:
            self.time += seconds
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.time + seconds, future))
        await future

    @property
    def sleeping(self) -> int:
        """Sleepers still waiting for their time."""
        return sum(not future.done() for _, future in self._sleepers)

    async def advance(self, seconds: float) -> None:
        """Move time on, wake every sleeper whose time has come, and let them run until they block again."""
        self.time += seconds
        for due, future in self._sleepers:
            if due <= self.time and not future.done():
                future.set_result(None)
        self._sleepers = [(due, future) for due, future in self._sleepers if not future.done()]
        await settle()


async def settle(rounds: int = 20) -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(rounds):
        await asyncio.sleep(0)
