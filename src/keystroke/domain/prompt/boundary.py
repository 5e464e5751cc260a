"""The prompt boundary: where the prompt stops and the model's own text begins.

Tokenizers merge across what looks like a boundary to a person: GPT-2 style code tokenizers merge a newline
with the indentation after it, Qwen's merge punctuation with the newlines after it (a colon, or a docstring's
closing quotes, and the newlines after it are one token), and all of them merge a space with the word after
it. A prompt cut at the cursor therefore often ends on a token the model never saw there (it expects `:` then
`\n    `, or `:\n` rather than `:` then `\n`). With the default model, exact match on HumanEval single-line
infilling falls to about 0.5% without healing; with Qwen2.5-Coder, taking back only the newline after a
docstring made the model answer with blank lines (docs/measurements.md).

`split_boundary` takes back the prompt's last token, as the model's own tokenizer cuts it, and at least its last
pre-token: a whitespace run, or a word or a run of punctuation with at most one leading space (the pieces a GPT-2
style pre-tokenizer never merges across). The backend then generates that text itself under a constraint (token
healing), so the model picks the tokenization of the boundary. Tails longer than `MAX_HEAL_CHARS` are left alone.
"""

from __future__ import annotations

import re

from keystroke.domain.engines.base import Tokenizer

MAX_HEAL_CHARS = 32
# The last token is found by tokenizing this much of the prefix's end: a pre-tokenizer's pieces depend only on
# nearby text, and a token that starts before the window's first quarter is longer than MAX_HEAL_CHARS anyway.
TOKEN_WINDOW_CHARS = 4 * MAX_HEAL_CHARS

_LAST_PIECE = re.compile(r"(?:\s+|[ ]?\w+|[ ]?[^\s\w]+)\Z")


def split_boundary(prefix: str, tokenizer: Tokenizer | None = None) -> tuple[str, str]:
    """(`kept`, `heal`) with kept + heal == prefix; `heal` is what the model must regenerate first.
    `tokenizer` must be the model's own (a token estimate would cut anywhere); without it, only the last
    pre-token is taken back."""
    piece = _last_piece_start(prefix)
    start = piece if tokenizer is None else min(piece, _last_token_start(prefix, tokenizer))
    if len(prefix) - start > MAX_HEAL_CHARS:
        start = piece
    if len(prefix) - start > MAX_HEAL_CHARS:
        return prefix, ""
    return prefix[:start], prefix[start:]


def _last_piece_start(prefix: str) -> int:
    # Only the tail can hold the piece: a match that fills the whole window is longer than the limit anyway.
    window = prefix[-(MAX_HEAL_CHARS + 1) :]
    match = _LAST_PIECE.search(window)
    if match is None:
        return len(prefix)
    return len(prefix) - len(window) + match.start()


def _last_token_start(prefix: str, tokenizer: Tokenizer) -> int:
    window = prefix[-TOKEN_WINDOW_CHARS:]
    offset = len(prefix) - len(window)
    start = tokenizer.tail_start(window, 1)
    if offset and start < MAX_HEAL_CHARS:
        return len(prefix)  # the window may have cut the token: take back none of it
    return offset + start
