"""Draft tokens from a smaller model with the same vocabulary: speculative decoding with a draft model.

Prompt lookup (`speculation.py`) drafts only what the prompt already holds. A draft model guesses anything a
small model can: Qwen2.5-Coder-0.5B drafting for the 1.5B (one tokenizer, trained alike) writes the same next
tokens most of the time, at about a third of the cost per token. The engine verifies the draft in one batch
on the target model and keeps its longest prefix that greedy decoding of the target would have produced, so
the answer is exactly the target's; only the time changes (`LlamaEngine._verify`).

`ModelDrafter` owns its own llama.cpp context. Between calls it keeps the KV state of the last history it
drafted after, so each call evaluates only what is new (the typed characters, the accepted tokens), and a
history of another cache owner (another tenant) starts from an empty state. It stops drafting where its own
best guess is unsure (`p_min`): a guess the target would likely refuse costs more than it saves. Not
thread-safe: the target engine's worker thread owns it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from keystroke.domain.engines.kv_slots import common_prefix_length
from keystroke.domain.engines.llama_kv import LiveKv
from keystroke.domain.engines.llama_tokenizer import LlamaTokenizer
from keystroke.domain.engines.model_source import ModelSource
from keystroke.errors import ModelLoadError

P_MIN = 0.5  # stop drafting where the draft model's best token is less likely than this
EVAL_CHUNK = 512


class ModelDrafter:
    def __init__(self, source: ModelSource, *, n_ctx: int, n_threads: int, p_min: float = P_MIN) -> None:
        import llama_cpp

        try:
            self._llm: Any = llama_cpp.Llama(
                model_path=str(source.path),
                n_ctx=n_ctx,
                n_batch=EVAL_CHUNK,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"llama.cpp could not load the draft model {source.path}: {exc}") from exc
        self._lib: Any = llama_cpp
        self._live = LiveKv(llama_cpp, self._llm)
        self.vocabulary = LlamaTokenizer(self._llm).vocabulary
        self.name = str(self._llm.metadata.get("general.name") or source.name)
        self.n_ctx = n_ctx
        self.p_min = p_min

    def draft(self, history: list[int], length: int, owner: str) -> list[int]:
        """Up to `length` tokens the draft model writes after `history`, greedily; fewer where it is unsure."""
        length = min(length, self.n_ctx - len(history))
        if length <= 0 or not history:
            return []
        live = self._live
        if live.owner != owner:
            live.truncate(0)  # another tenant's state is never a starting point
            live.owner = owner
        common = min(common_prefix_length(live.tokens, history), len(history) - 1)  # the last token's logits
        live.truncate(common)
        for start in range(common, len(history), EVAL_CHUNK):
            live.eval(history[start : start + EVAL_CHUNK])
        drafted: list[int] = []
        logits = self._logits()
        while len(drafted) < length:
            token = int(np.argmax(logits))
            if _probability(logits, token) < self.p_min:
                break
            drafted.append(token)
            if len(drafted) < length:
                live.eval([token])
                logits = self._logits()
        return drafted

    def reset(self) -> None:
        self._live.truncate(0)

    def close(self) -> None:
        self._llm.close()

    def _logits(self) -> npt.NDArray[np.float32]:
        pointer = self._lib.llama_get_logits_ith(self._llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(len(self.vocabulary),))


def _probability(logits: npt.NDArray[np.float32], token: int) -> float:
    """The softmax probability of `token` under `logits`."""
    peak = float(logits.max())
    return float(np.exp(float(logits[token]) - peak) / np.exp(logits - peak).sum())
