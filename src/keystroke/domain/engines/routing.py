"""Which replica of a fleet serves a request: prefix affinity by consistent hashing with bounded loads.

Engines keep a prefix cache (vLLM's automatic prefix caching, SGLang's radix cache, llama-server's slots),
so a file's consecutive requests should reach the replica that served the previous one. The key is tenant +
file path. Each replica owns `points` positions on a hash ring; a key goes to the first replica clockwise
from its hash that is healthy and not over its load bound, ceil(`load_factor` x (requests in flight + 1) /
healthy replicas) (Mirrokni, Thorup and Zadimoghaddam's consistent hashing with bounded loads): a hot key
spills to the next replica instead of queueing behind itself, and removing a replica moves only its keys.

`route` returns every replica in preference order, so a failed request fails over to the next one.
`RoundRobin` is the comparison baseline (and a choice for fleets without prefix caches).
Pure: loads and health are passed in; thread-safety is the caller's.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
from collections.abc import Sequence
from typing import Protocol


def ring_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


class Policy(Protocol):
    def route(self, key: str, loads: Sequence[int], healthy: Sequence[bool]) -> list[int]:
        """Replica indexes in the order to try them: healthy ones first."""
        ...


class AffinityRing:
    def __init__(self, replicas: Sequence[str], *, points: int = 64, load_factor: float = 1.25) -> None:
        if not replicas:
            raise ValueError("a fleet needs at least one replica")
        if load_factor < 1.0:
            raise ValueError("load_factor must be at least 1")
        self.load_factor = load_factor
        self._count = len(replicas)
        ring = sorted(
            (ring_hash(f"{name}#{point}"), index) for index, name in enumerate(replicas) for point in range(points)
        )
        self._positions = [position for position, _ in ring]
        self._owners = [owner for _, owner in ring]

    def route(self, key: str, loads: Sequence[int], healthy: Sequence[bool]) -> list[int]:
        order = self._clockwise(key)
        alive = [index for index in order if healthy[index]] or order
        bound = math.ceil(self.load_factor * (sum(loads[i] for i in alive) + 1) / len(alive))
        first = next((index for index in alive if loads[index] < bound), alive[0])
        rest = [index for index in order if index != first]
        return [first, *sorted(rest, key=lambda index: not healthy[index])]

    def home(self, key: str) -> int:
        """The replica a key goes to when every replica is healthy and idle."""
        return self._clockwise(key)[0]

    def _clockwise(self, key: str) -> list[int]:
        """Distinct replicas in ring order from the key's position."""
        start = bisect.bisect(self._positions, ring_hash(key))
        seen: dict[int, None] = {}
        for step in range(len(self._owners)):
            seen.setdefault(self._owners[(start + step) % len(self._owners)], None)
            if len(seen) == self._count:
                break
        return list(seen)


class RoundRobin:
    def __init__(self, replicas: Sequence[str]) -> None:
        if not replicas:
            raise ValueError("a fleet needs at least one replica")
        self._count = len(replicas)
        self._next = itertools.count()

    def route(self, key: str, loads: Sequence[int], healthy: Sequence[bool]) -> list[int]:
        del key, loads
        start = next(self._next) % self._count
        order = [(start + step) % self._count for step in range(self._count)]
        return sorted(order, key=lambda index: not healthy[index])
