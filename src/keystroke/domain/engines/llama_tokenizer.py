"""A model's own tokenizer, from a llama.cpp model: token counts for prompt budgets, and prompt encoding.

`LlamaTokenizer` wraps a loaded `llama_cpp.Llama`; `load_tokenizer` loads only a GGUF's vocabulary (no
weights, a few megabytes and milliseconds), which is what a gateway in front of remote engines needs to cut
prompts to the remote model's token budget. Read-only after construction: any thread may call it.
"""

from __future__ import annotations

from typing import Any

from keystroke.domain.engines.base import Prompt, Special
from keystroke.domain.engines.llama_vocabulary import read_vocabulary
from keystroke.domain.engines.model_source import ModelSource
from keystroke.errors import EngineError, ModelLoadError


class LlamaTokenizer:
    def __init__(self, llm: Any) -> None:
        """`llm`: a `llama_cpp.Llama`, or a vocabulary-only `LlamaModel` (both have `.model` and `.tokenize`)."""
        import llama_cpp

        self._llm = llm
        self._vocab_ptr = llama_cpp.llama_model_get_vocab(llm.model)
        self.vocabulary = read_vocabulary(llama_cpp, self._vocab_ptr)
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab_ptr))
        self._bos = int(llama_cpp.llama_vocab_bos(self._vocab_ptr))
        eos = int(llama_cpp.llama_vocab_eos(self._vocab_ptr))
        # what an empty prompt is evaluated as: the start of a document (its separator when there is no BOS)
        self._document_start = [token for token in (self._bos, eos) if token >= 0][:1]

    def tokenize(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def tail_start(self, text: str, max_tokens: int) -> int:
        tokens = self.tokenize(text)
        if len(tokens) <= max_tokens:
            return 0
        kept = b"".join(self.vocabulary.pieces[t] for t in tokens[len(tokens) - max_tokens :])
        return len(text) - len(kept.decode("utf-8", "ignore"))

    def head_end(self, text: str, max_tokens: int) -> int:
        tokens = self.tokenize(text)
        if len(tokens) <= max_tokens:
            return len(text)
        kept = b"".join(self.vocabulary.pieces[t] for t in tokens[:max_tokens])
        return len(kept.decode("utf-8", "ignore"))

    def encode(self, prompt: Prompt) -> list[int]:
        """The prompt's tokens; never empty (a model needs one token to predict from: an empty prompt, say
        a one-character prefix taken back entirely for token healing, is the start of a document)."""
        tokens = [self._bos] if self._add_bos and self._bos >= 0 else []
        for part in prompt.parts:
            if isinstance(part, Special):
                token = self.vocabulary.special.get(part.text)
                if token is None:
                    raise EngineError(f"the model's vocabulary has no control token {part.text!r}")
                tokens.append(token)
            else:
                tokens.extend(self.tokenize(part))
        if not tokens and not self._document_start:
            raise EngineError("the prompt is empty and the model has neither a BOS nor an EOS token to start from")
        return tokens or list(self._document_start)


def load_tokenizer(source: ModelSource) -> LlamaTokenizer:
    """The vocabulary of a GGUF file, without its weights or a context."""
    import llama_cpp
    from llama_cpp import _internals

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    try:
        model = _internals.LlamaModel(path_model=str(source.path), params=params, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"llama.cpp could not read the vocabulary of {source.path}: {exc}") from exc
    return LlamaTokenizer(model)
