"""Where two versions of a text differ, as one edit (pure)."""

from __future__ import annotations

from keystroke.domain.context.active import common_prefix


def text_change(old: str, new: str) -> tuple[int, str, str]:
    """(start, removed, inserted): `new` is `old` with `removed` at `start` replaced by `inserted`."""
    start = common_prefix(old, new)
    limit = min(len(old), len(new)) - start
    tail = common_prefix(old[::-1][:limit], new[::-1][:limit]) if limit > 0 else 0
    return start, old[start : len(old) - tail], new[start : len(new) - tail]
