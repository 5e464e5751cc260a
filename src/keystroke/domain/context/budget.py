"""Fill a token budget with context items: by priority, without near-copies of the code around the cursor.

Pure: items in, the chosen items out, in their deterministic placement order. The cost of an item is what it
costs once rendered (header and comment markers included), measured with the model's own tokenizer, so the
budget is never exceeded whatever the mix of sources.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keystroke.domain.context.items import PRIORITY, ContextItem, SourceName
from keystroke.domain.context.parsing import identifiers_in

MAX_OVERLAP = 0.6  # an item whose identifiers are mostly in the local window repeats it
DEDUPED: frozenset[SourceName] = frozenset({"neighbours", "retrieval"})  # found by similarity, so may be copies


def repeats_local(item: ContextItem, local: set[str], limit: float = MAX_OVERLAP) -> bool:
    """Whether most of the item's identifiers already appear in the code around the cursor."""
    words = identifiers_in(item.body)
    return bool(words) and len(words & local) / len(words) > limit


def fill(
    items: Sequence[ContextItem],
    budget_tokens: int,
    cost: Callable[[ContextItem], int],
    local: set[str] | None = None,
) -> list[ContextItem]:
    """The items that fit, taken in priority order (each source's own order within), placed by `order_key`."""
    chosen: list[ContextItem] = []
    used = 0
    ranked = sorted(enumerate(items), key=lambda pair: (PRIORITY.index(pair[1].source), pair[0]))
    for _, item in ranked:
        if any(_overlaps(item, taken) for taken in chosen):
            continue
        if local is not None and item.source in DEDUPED and repeats_local(item, local):
            continue
        price = cost(item)
        if used + price > budget_tokens:
            continue  # a smaller item further down may still fit
        chosen.append(item)
        used += price
    return sorted(chosen, key=lambda item: item.order_key)


def _overlaps(item: ContextItem, other: ContextItem) -> bool:
    """Two items of one file sharing more than half of the shorter one's lines."""
    if item.filepath != other.filepath:
        return False
    shared = min(item.end, other.end) - max(item.line, other.line)
    return shared > min(item.end - item.line, other.end - other.line) / 2
