"""KV slots: saved KV states of the embedded engine, so several files and users keep their prompt caches.

llama.cpp holds one live KV sequence per context. When a request's prompt shares little with it (the user
moved to another file, or another tenant asks), the live state is saved to host memory as a `Slot` before it
is overwritten, and a saved slot whose tokens share a longer prefix with the new prompt is restored instead of
evaluating that prefix again. Saving or restoring 1,000 tokens of the default model's state copies about
23 MB, a few milliseconds; evaluating them costs seconds.

`SlotStore`: slots per owner (a tenant's cache namespace; a lookup only ever sees its own owner's slots),
evicted least recently used first when their bytes exceed `budget_bytes` or their number `max_slots`.
Not thread-safe: the engine's worker thread owns it. Clear with `clear()`.

`plan_chunk`: after an edit earlier in the file, the tokens after the edit are still in the cache at old
positions; the plan says which run of them can be moved (its positions shifted) to where the new prompt
needs it, so only the edited region is evaluated.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(eq=False)
class Slot:
    """One saved KV sequence: whose it is, the tokens it holds, and llama.cpp's serialised state."""

    owner: str
    tokens: list[int]
    state: bytes
    used: int = 0  # the store's clock at the last save or restore (LRU order)

    @property
    def nbytes(self) -> int:
        return len(self.state)


@dataclass
class SlotCounters:
    saved: int = 0
    restored: int = 0
    evicted: int = 0
    chunk_reuses: int = 0
    chunk_tokens: int = 0


@dataclass
class SlotStore:
    budget_bytes: int
    max_slots: int
    counters: SlotCounters = field(default_factory=SlotCounters)
    _slots: list[Slot] = field(default_factory=list)
    _clock: itertools.count[int] = field(default_factory=itertools.count)

    def best(self, owner: str, tokens: list[int]) -> tuple[Slot | None, int]:
        """The owner's slot sharing the longest prefix with `tokens`, and that length (0: none shares any)."""
        best: Slot | None = None
        length = 0
        for slot in self._slots:
            if slot.owner != owner:
                continue
            shared = common_prefix_length(slot.tokens, tokens)
            if shared > length:
                best, length = slot, shared
        return best, length

    def slots_of(self, owner: str) -> list[Slot]:
        return [slot for slot in self._slots if slot.owner == owner]

    def save(self, slot: Slot, replacing: Sequence[Slot] = ()) -> None:
        """Keep `slot` (in place of `replacing`: older versions of it), then evict down to the budget."""
        self._slots = [old for old in self._slots if old not in replacing]
        slot.used = next(self._clock)
        self._slots.append(slot)
        self.counters.saved += 1
        self._evict()

    def touch(self, slot: Slot) -> None:
        slot.used = next(self._clock)
        self.counters.restored += 1

    def clear(self) -> None:
        self._slots.clear()

    @property
    def nbytes(self) -> int:
        return sum(slot.nbytes for slot in self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def _evict(self) -> None:
        self._slots.sort(key=lambda slot: slot.used)
        while self._slots and (len(self._slots) > self.max_slots or self.nbytes > self.budget_bytes):
            self._slots.pop(0)
            self.counters.evicted += 1


@dataclass(frozen=True)
class Chunk:
    """Cached tokens old[old_start : old_start + length] equal new[new_start : new_start + length]."""

    old_start: int
    new_start: int
    length: int

    @property
    def shift(self) -> int:
        return self.new_start - self.old_start


def plan_chunk(old: list[int], new: list[int], common: int, min_length: int) -> Chunk | None:
    """The longest run of the cache beyond the shared prefix `common` that the new prompt repeats later,
    if at least `min_length` tokens long. Only the run's first `min_length` tokens are searched for (one
    pass over each side with a table of `min_length`-grams), so the cost is linear in the prompt length."""
    if min_length <= 0 or len(old) - common < min_length or len(new) - common < min_length:
        return None
    first_seen: dict[tuple[int, ...], int] = {}
    for start in range(common, len(old) - min_length + 1):
        first_seen.setdefault(tuple(old[start : start + min_length]), start)
    best: Chunk | None = None
    new_start = common
    while new_start <= len(new) - min_length:
        old_start = first_seen.get(tuple(new[new_start : new_start + min_length]))
        if old_start is None:
            new_start += 1
            continue
        length = min_length + common_prefix_length(old[old_start + min_length :], new[new_start + min_length :])
        if best is None or length > best.length:
            best = Chunk(old_start, new_start, length)
        new_start += length
    return best


def common_prefix_length(left: list[int], right: list[int]) -> int:
    """How many leading tokens two sequences share (what the KV cache can keep between them)."""
    limit = min(len(left), len(right))
    for index in range(limit):
        if left[index] != right[index]:
            return index
    return limit
