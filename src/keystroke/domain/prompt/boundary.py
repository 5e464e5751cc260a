"""The prompt boundary: where the prompt stops and the model's own text begins.

Code tokenizers merge a newline with the indentation after it, and a space with the word after it. A prompt
that ends with `:\n` therefore ends on a token the model almost never saw there (it expects `:` then
`\n    `), and with the default model exact match on HumanEval single-line infilling falls to about 0.5%.

`split_boundary` takes back the prompt's last pre-token: a whitespace run, or a word or a run of punctuation
with at most one leading space (the pieces a GPT-2 style pre-tokenizer never merges across). The backend then
generates that text itself under a constraint (token healing), so the model picks the tokenization of the
boundary. Longer tails than `MAX_HEAL_CHARS` are left alone.
"""

from __future__ import annotations

import re

MAX_HEAL_CHARS = 32

_LAST_PIECE = re.compile(r"(?:\s+|[ ]?\w+|[ ]?[^\s\w]+)\Z")


def split_boundary(prefix: str) -> tuple[str, str]:
    """(`kept`, `heal`) with kept + heal == prefix; `heal` is what the model must regenerate first."""
    # Only the tail can hold the piece: a match that fills the whole window is longer than the limit anyway.
    window = prefix[-(MAX_HEAL_CHARS + 1) :]
    match = _LAST_PIECE.search(window)
    if match is None or len(match.group()) > MAX_HEAL_CHARS:
        return prefix, ""
    return prefix[: len(prefix) - len(window) + match.start()], match.group()
