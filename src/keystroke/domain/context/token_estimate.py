"""Token counts estimated from characters: the editor side's tokenizer when the model is behind a gateway.

The language server collects context before it knows the gateway's tokenizer; the gateway fits the snippets
it receives to `prompt.context_tokens` again with the model's own tokenizer, so an estimate only has to keep
the editor from sending much more than fits. Source code runs at about 3 characters per token with the BPE
tokenizers of code models; rounding up errs on the side of sending less.
"""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 3.0


class EstimatedTokenizer:
    def __init__(self, chars_per_token: float = CHARS_PER_TOKEN) -> None:
        self.chars_per_token = chars_per_token

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token)

    def tail_start(self, text: str, max_tokens: int) -> int:
        return max(0, len(text) - int(max_tokens * self.chars_per_token))

    def head_end(self, text: str, max_tokens: int) -> int:
        return min(len(text), int(max_tokens * self.chars_per_token))
