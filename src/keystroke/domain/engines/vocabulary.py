"""A model's vocabulary as byte pieces, with the prefix index that token healing needs.

Token healing forces the generation to begin with a given text. At each step the allowed tokens are those
*consistent* with what is still to be produced: their bytes start with it (the token finishes it and goes on),
or it starts with their bytes (the token produces part of it). A forced text that ends a line is not finished
by a token that goes on with another line end: that would put a blank line where the cursor is (Qwen2.5-Coder,
given back the newline after a docstring, preferred exactly that and then ended the middle). `consistent_ids`
answers from a sorted index in microseconds; answers are memoised in a bounded dict (4,096 entries, not
thread-safe: the engine worker is its only user).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]

_MEMO_LIMIT = 4096


class Vocabulary:
    """Byte pieces of every token id; `special` maps the text of control/user-defined tokens to their id."""

    def __init__(self, pieces: Sequence[bytes], special: dict[str, int], end_ids: frozenset[int]) -> None:
        self.pieces = list(pieces)
        self.special = dict(special)
        self.end_ids = end_ids
        special_ids = set(special.values())
        ordinary = sorted((p, i) for i, p in enumerate(self.pieces) if p and i not in special_ids)
        self._keys = [p for p, _ in ordinary]
        self._ids = [i for _, i in ordinary]
        self._by_piece: dict[bytes, list[int]] = {}
        for piece, token in ordinary:
            self._by_piece.setdefault(piece, []).append(token)
        self._memo: dict[bytes, IdArray] = {}
        self.fingerprint = _fingerprint(self.pieces, special)

    def __len__(self) -> int:
        return len(self.pieces)

    def consistent_ids(self, remaining: bytes) -> IdArray:
        """Ids of ordinary tokens whose bytes start with `remaining` (and do not add a line end to one) or are
        a prefix of it."""
        cached = self._memo.get(remaining)
        if cached is not None:
            return cached
        found: list[int] = []
        ends_line = remaining.endswith(b"\n")
        start = bisect_left(self._keys, remaining)
        for index in range(start, len(self._keys)):
            key = self._keys[index]
            if not key.startswith(remaining):
                break
            if not (ends_line and key[len(remaining) : len(remaining) + 1] in (b"\n", b"\r")):
                found.append(self._ids[index])
        for cut in range(1, len(remaining)):
            found.extend(self._by_piece.get(remaining[:cut], ()))
        result = np.array(sorted(set(found)), dtype=np.int64)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[remaining] = result
        return result


def _fingerprint(pieces: Sequence[bytes], special: dict[str, int]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(len(piece).to_bytes(2, "little"))
        digest.update(piece)
    for text, token in sorted(special.items()):
        digest.update(f"{token}:{text}".encode())
    return digest.hexdigest()[:16]
