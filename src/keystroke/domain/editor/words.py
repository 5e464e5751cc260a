"""Words from open buffers and near-miss fixes: the local lane for any language (pure functions).

`complete_word` offers the words of the open documents that start with the partly typed word at the cursor,
nearest documents first, longer than what is typed. `near_miss` finds the identifier a mistyped word most
likely meant (`pritn` -> `print`): same first letter, at most one edit (insertion, deletion, substitution or
a swap of neighbours) for words of up to 6 letters, two for longer ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTIAL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
MIN_WORD = 3


def partial_word(line_before: str) -> str:
    match = _PARTIAL.search(line_before)
    return match.group(0) if match else ""


def words_of(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w in WORD.findall(text) if len(w) >= MIN_WORD)
    return counts


def complete_word(partial: str, vocabulary: Counter[str], limit: int = 10) -> list[str]:
    """Words starting with `partial` (case-sensitive), most frequent first, then alphabetical."""
    if not partial:
        return []
    found = [w for w in vocabulary if w.startswith(partial) and w != partial]
    # the partial word itself is counted once in the vocabulary while it is typed: frequency ranks the rest
    found.sort(key=lambda w: (-vocabulary[w], w))
    return found[:limit]


def near_miss(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate within the allowed edits of `word` (ties: the first given, so give the most
    frequent first), or None; a word that is itself a candidate needs no fix."""
    if len(word) < MIN_WORD:
        return None
    allowed = 1 if len(word) <= 6 else 2
    best: tuple[int, str] | None = None
    pool = list(candidates)
    if word in pool:
        return None
    for candidate in pool:
        if candidate[:1] != word[:1] or abs(len(candidate) - len(word)) > allowed:
            continue
        distance = edit_distance(word, candidate, allowed)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours counts one); `limit + 1` once it exceeds `limit`."""
    previous: Sequence[int] | None = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            swapped = i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]
            if swapped and previous is not None:
                current[j] = min(current[j], previous[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous, row = row, current
    return min(row[len(b)], limit + 1)
