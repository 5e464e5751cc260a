"""Reading a llama.cpp model's vocabulary: token bytes, control tokens, end-of-generation tokens."""

from __future__ import annotations

import ctypes
import re
from typing import Any

from keystroke.domain.engines.model_source import ModelSource
from keystroke.domain.engines.vocabulary import Vocabulary
from keystroke.errors import ModelLoadError

_BAR = "\uff5c"  # the full-width bar of DeepSeek's markers
_MARKER = re.compile(rf"^(<[^<>\s]+>|\[[A-Z_]+\]|<{_BAR}[^{_BAR}]+{_BAR}>|\u2581<[A-Z]+>)$")


def read_vocabulary(lib: Any, vocab: Any) -> Vocabulary:
    """Read every token's bytes; control and marker-like tokens become `special` with empty pieces."""
    buffer = ctypes.create_string_buffer(512)
    control = lib.LLAMA_TOKEN_ATTR_CONTROL
    user_defined = lib.LLAMA_TOKEN_ATTR_USER_DEFINED
    pieces: list[bytes] = []
    special: dict[str, int] = {}
    end_ids: set[int] = set()
    for token in range(lib.llama_vocab_n_tokens(vocab)):
        attr = lib.llama_vocab_get_attr(vocab, token)
        text = _piece(lib, vocab, token, buffer, special=True)
        marker = bool(attr & control) or (bool(attr & user_defined) and _MARKER.match(text.decode("utf-8", "replace")))
        if marker:
            special[text.decode("utf-8", "replace")] = token
            pieces.append(b"")
            end_ids.add(token)
        else:
            pieces.append(_piece(lib, vocab, token, buffer, special=False))
        if lib.llama_vocab_is_eog(vocab, token):
            end_ids.add(token)
    return Vocabulary(pieces, special, frozenset(end_ids))


def _piece(lib: Any, vocab: Any, token: int, buffer: Any, *, special: bool) -> bytes:
    length = lib.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, special)
    return bytes(buffer.raw[: max(length, 0)])


def read_model_card(source: ModelSource) -> tuple[str, frozenset[str]]:
    """(model name, control-token texts) from the GGUF's vocabulary alone, without building a context."""
    import llama_cpp

    try:
        llm = llama_cpp.Llama(model_path=str(source.path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"llama.cpp could not read {source.path}: {exc}") from exc
    try:
        vocabulary = read_vocabulary(llama_cpp, llama_cpp.llama_model_get_vocab(llm.model))
        return str(llm.metadata.get("general.name") or source.name), frozenset(vocabulary.special)
    finally:
        llm.close()
