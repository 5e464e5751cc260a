"""How much of a document goes with a request to the model: as much as the prompt budget can use, no more.

The gateway cuts every prompt to `prompt.budget_tokens` tokens around the cursor, so sending a whole 6 MB file
costs its upload, the gateway's limits (it is refused, 413, and that file never gets a suggestion) and memory
on both sides for nothing. The editor sends the end of the prefix and the start of the suffix, up to twice what
the budget could hold at `MAX_CHARS_PER_TOKEN` characters a token. The prefix's start lies on a grid of
absolute offsets (then moves to a line start), so while the user types it stays put and the gateway's prompt,
and with it the engine's KV cache, is unchanged up to the cursor; it moves once every quarter window typed.
Pure functions.
"""

from __future__ import annotations

from keystroke.domain.prompt.assembly import MAX_CHARS_PER_TOKEN


def window_chars(budget_tokens: int) -> int:
    """Characters of prefix (and of suffix) worth sending for a prompt budget of `budget_tokens`."""
    return 2 * budget_tokens * MAX_CHARS_PER_TOKEN


def upload_window(prefix: str, suffix: str, max_chars: int) -> tuple[str, str]:
    """The end of `prefix` (from a line start on a grid) and the start of `suffix` (to a line end), each of at
    most `max_chars` characters and, when cut, at least half of that."""
    if len(prefix) > max_chars:
        quantum = max(1, max_chars // 4)  # the start moves at most a quantum, then to a line start
        start = -(-(len(prefix) - max_chars) // quantum) * quantum  # the first grid point that fits
        newline = prefix.find("\n", start - 1, start - 1 + quantum)
        prefix = prefix[newline + 1 :] if newline >= 0 else prefix[start:]
    if len(suffix) > max_chars:
        end = suffix.rfind("\n", max_chars // 2, max_chars)
        suffix = suffix[: end + 1] if end >= 0 else suffix[:max_chars]
    return prefix, suffix
