"""The editor's result cache: suggestions already shown, found again when the same text is around the cursor.

Keyed by (tenant, model, tokenizer, file) and then by the text around the cursor (the last `PREFIX_CHARS` before it and
the first `SUFFIX_CHARS` after it), not by document version or position: deleting and retyping, undo and redo,
or moving the cursor back to where it was all bring the same text back, and so the same suggestion.

Type-through: when the user types the first characters of a shown suggestion, the text before the cursor is
the cached text plus those characters; `lookup` then returns the rest of the suggestion, with no request.

Size: at most `per_file` entries per file (10), least recently used first out; each lives `ttl_s` (30 s) from
when it was stored. `invalidate(file)` drops a file's entries (on save, and on a large edit such as a paste or
replace); `clear()` drops everything. Time is injected (`clock`). Thread-safety: none; the language server
drives it from its one event loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

PREFIX_CHARS = 2000
SUFFIX_CHARS = 500
Clock = Callable[[], float]


@dataclass(frozen=True)
class Scope:
    """Whose suggestions these are: an entry is only ever found under the same tenant, model, tokenizer and file."""

    tenant: str
    model: str
    filepath: str
    tokenizer: str = ""


@dataclass(frozen=True)
class Hit:
    text: str  # what to show now
    typed: int  # characters of the stored suggestion the user has typed through (0: an exact hit)
    prefetched_tokens: int = 0  # a prefetched entry's decoded tokens, on its first hit only (else 0)


@dataclass
class _Entry:
    prefix: str
    suffix: str
    text: str
    stored: float
    prefetched: bool = False
    tokens: int = 0
    used: bool = False


class ResultCache:
    def __init__(self, per_file: int = 10, ttl_s: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.per_file = per_file
        self.ttl_s = ttl_s
        self._clock = clock
        self._files: dict[Scope, OrderedDict[tuple[str, str], _Entry]] = {}
        self.hits = 0
        self.misses = 0

    def store(
        self, scope: Scope, prefix: str, suffix: str, text: str, *, prefetched: bool = False, tokens: int = 0
    ) -> None:
        """Keep `text` for this text around the cursor; `prefetched`: computed ahead (its `tokens` are
        reported once, on its first hit)."""
        if not text:
            return
        entries = self._files.setdefault(scope, OrderedDict())
        key = _key(prefix, suffix)
        entries.pop(key, None)
        entries[key] = _Entry(key[0], key[1], text, self._clock(), prefetched, tokens)
        while len(entries) > self.per_file:
            entries.popitem(last=False)

    def lookup(self, scope: Scope, prefix: str, suffix: str) -> Hit | None:
        """The suggestion for this text around the cursor: stored for it exactly, or typed through."""
        entries = self._files.get(scope)
        found = self._find(entries, prefix, suffix) if entries else None
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        entry, text, typed = found
        first = entry.prefetched and not entry.used
        entry.used = True
        return Hit(text, typed, entry.tokens if first else 0)

    def holds(self, scope: Scope, prefix: str, suffix: str) -> bool:
        """Whether `lookup` would find something, without counting or using it."""
        entries = self._files.get(scope)
        return entries is not None and self._find(entries, prefix, suffix) is not None

    def invalidate(self, filepath: str) -> None:
        for scope in [scope for scope in self._files if scope.filepath == filepath]:
            del self._files[scope]

    def clear(self) -> None:
        self._files.clear()

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._files.values())

    def _find(
        self, entries: OrderedDict[tuple[str, str], _Entry], prefix: str, suffix: str
    ) -> tuple[_Entry, str, int] | None:
        """The entry for this text around the cursor, what of it to show, and how much was typed through."""
        now = self._clock()
        for key in [key for key, entry in entries.items() if now - entry.stored > self.ttl_s]:
            del entries[key]
        key = _key(prefix, suffix)
        exact = entries.get(key)
        if exact is not None:
            entries.move_to_end(key)
            return exact, exact.text, 0
        for key, entry in reversed(entries.items()):
            typed = _typed_through(entry, prefix, key[1])
            if typed:
                entries.move_to_end(key)
                return entry, entry.text[typed:], typed
        return None


def _key(prefix: str, suffix: str) -> tuple[str, str]:
    return prefix[-PREFIX_CHARS:], suffix[:SUFFIX_CHARS]


def _typed_through(entry: _Entry, prefix: str, suffix: str) -> int:
    """How many characters of the entry's suggestion the user typed after the entry's own text (0: none)."""
    if suffix != entry.suffix:
        return 0
    for typed in range(1, len(entry.text)):
        if prefix.endswith(entry.text[:typed]) and prefix[:-typed][-PREFIX_CHARS:] == entry.prefix:
            return typed
    return 0
