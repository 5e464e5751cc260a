"""A tokenizer estimate for remote models whose vocabulary keystroke does not have (no `engine.tokenizer`).

Code averages about 3 to 4 bytes per token in current code models' vocabularies; counting 3 overestimates,
so prompts cut to a budget by this estimate fit the real one. Cuts fall on character boundaries.
"""

from __future__ import annotations

BYTES_PER_TOKEN = 3


class ApproxTokenizer:
    def count_tokens(self, text: str) -> int:
        return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)

    def tail_start(self, text: str, max_tokens: int) -> int:
        budget = max_tokens * BYTES_PER_TOKEN
        used = 0
        for index in range(len(text) - 1, -1, -1):
            used += len(text[index].encode("utf-8"))
            if used > budget:
                return index + 1
        return 0

    def head_end(self, text: str, max_tokens: int) -> int:
        budget = max_tokens * BYTES_PER_TOKEN
        used = 0
        for index, char in enumerate(text):
            used += len(char.encode("utf-8"))
            if used > budget:
                return index
        return len(text)
