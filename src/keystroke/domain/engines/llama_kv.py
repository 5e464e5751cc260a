"""The live KV sequence of a llama.cpp context, and the operations keystroke does on it.

`LiveKv` knows which tokens the context's KV memory holds (sequence 0) and for which owner, and does the
four things the engine needs: evaluate tokens after them, truncate them, save and restore them as a `Slot`
(llama.cpp's per-sequence state serialisation), and move a cached chunk to a new position after an edit.

Moving a chunk: llama.cpp requires a sequence's positions to stay consecutive, so tokens cannot be evaluated
in front of cached ones. The chunk is therefore parked in sequence 1, sequence 0 is cut back to the edit,
the edited tokens are evaluated, the parked chunk's positions are shifted (llama.cpp re-applies the rotary
embedding) and it is copied back into sequence 0. The moved keys and values were computed next to the old
text before the edit, which is the approximation llama-server's cache reuse makes too; it is only done for
runs of at least `min_chunk` tokens, and never across owners.

The context is created with two sequences sharing one unified KV memory, so the parked chunk takes no extra
room. Not thread-safe: the engine's worker thread owns it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from keystroke.domain.engines.kv_slots import Chunk, Slot
from keystroke.errors import EngineError

LIVE, PARKED = 0, 1


def open_two_sequence_context(llm: Any) -> None:
    """Replace `llm`'s context by one with two sequences in a unified KV memory (the parking sequence).

    llama-cpp-python's `Llama` builds its context with one sequence and offers no parameter for more; the
    replacement uses the same parameters otherwise. It frees itself with the model, as the original did."""
    from llama_cpp import _internals

    params = llm.context_params
    params.n_seq_max = 2
    params.kv_unified = True
    replacement = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    llm._ctx.close()
    llm._ctx = replacement


class LiveKv:
    def __init__(self, lib: Any, llm: Any) -> None:
        self._lib = lib
        self._llm = llm
        self.tokens: list[int] = []
        self.owner = ""
        self.prompt_len = 0  # how many of `tokens` are the last prompt (the rest was decoded after it)

    @property
    def _memory(self) -> Any:
        return self._lib.llama_get_memory(self._llm.ctx)

    @property
    def can_shift(self) -> bool:
        return bool(self._lib.llama_memory_can_shift(self._memory))

    def eval(self, tokens: Sequence[int]) -> None:
        self._llm.n_tokens = len(self.tokens)
        self._llm.eval(list(tokens))
        self.tokens.extend(tokens)

    def eval_all(self, tokens: Sequence[int], n_vocab: int) -> npt.NDArray[np.float32]:
        """Evaluate `tokens` in one batch keeping every position's logits (row i: after tokens[: i + 1])."""
        batch = self._llm._batch  # llama-cpp-python's reusable batch; its public eval keeps only the last row
        batch.set_batch(batch=list(tokens), n_past=len(self.tokens), logits_all=True)
        self._llm._ctx.decode(batch)
        self.tokens.extend(tokens)
        self._llm.n_tokens = len(self.tokens)
        rows = self._lib.llama_get_logits(self._llm.ctx)
        return np.ctypeslib.as_array(rows, shape=(len(tokens), n_vocab)).copy()

    def truncate(self, length: int) -> None:
        if length < len(self.tokens):
            self._lib.llama_memory_seq_rm(self._memory, LIVE, length, -1)
            del self.tokens[length:]
        self._llm.n_tokens = len(self.tokens)

    def save(self) -> Slot:
        """The live sequence as a slot (a copy of its keys and values in host memory)."""
        ctx = self._llm.ctx
        size = int(self._lib.llama_state_seq_get_size(ctx, LIVE))
        buffer = (ctypes.c_uint8 * size)()
        written = int(self._lib.llama_state_seq_get_data(ctx, buffer, size, LIVE))
        if written != size:
            raise EngineError(f"llama.cpp saved {written} of {size} bytes of the KV state")
        return Slot(self.owner, list(self.tokens), bytes(buffer))

    def restore(self, slot: Slot) -> None:
        """Make `slot` the live sequence (what was live is dropped; save it first to keep it)."""
        self.truncate(0)
        buffer = (ctypes.c_uint8 * slot.nbytes).from_buffer_copy(slot.state)
        read = int(self._lib.llama_state_seq_set_data(self._llm.ctx, buffer, slot.nbytes, LIVE))
        if read != slot.nbytes:
            self.truncate(0)
            raise EngineError(f"llama.cpp restored {read} of {slot.nbytes} bytes of a saved KV state")
        self.tokens = list(slot.tokens)
        self.owner = slot.owner
        self.prompt_len = len(slot.tokens)
        self._llm.n_tokens = len(self.tokens)

    def move_chunk(
        self, chunk: Chunk, new: Sequence[int], common: int, evaluate: Callable[[Sequence[int]], bool]
    ) -> bool:
        """Keep new[:common], evaluate new[common:chunk.new_start] with `evaluate` (False: it was cancelled),
        and move the cached chunk behind them. Returns whether the chunk is now in place; when evaluation is
        cancelled the live sequence ends after what was evaluated, and the parked chunk is dropped."""
        memory = self._memory
        end = chunk.old_start + chunk.length
        self._lib.llama_memory_seq_cp(memory, LIVE, PARKED, chunk.old_start, end)
        try:
            self.truncate(common)
            if not evaluate(new[common : chunk.new_start]):
                return False
            self._lib.llama_memory_seq_add(memory, PARKED, chunk.old_start, end, chunk.shift)
            self._lib.llama_memory_seq_cp(memory, PARKED, LIVE, -1, -1)
            self.tokens.extend(new[chunk.new_start : chunk.new_start + chunk.length])
            self._llm.n_tokens = len(self.tokens)
            return True
        finally:
            self._lib.llama_memory_seq_rm(memory, PARKED, -1, -1)
