"""The embedded engine: one llama.cpp context driven token by token.

What it adds over calling llama.cpp's own generate:
- **KV prefix reuse.** The tokens whose KV state is in the context are tracked; a new prompt only evaluates
  what follows its longest common prefix with them, and the logits at the end of the last prompt are kept,
  so a prompt that is fully cached (typing inside a healed word) needs no evaluation at all. The state
  belongs to one `cache_owner` (a tenant's namespace): a prompt of another owner never reuses it.
- **KV slots** (`kv_slots.py`, `llama_kv.py`). Before the live state loses `STASH_MIN_TOKENS` or more, it is
  saved to host memory; a request whose prompt shares a longer prefix with one of its owner's saved slots
  than with the live state gets that slot restored. So interleaved files and users each keep their cache.
- **Chunk reuse after an edit.** When the prompt differs from the cache early on (an edit earlier in the
  file) but repeats a long run of it later, that run's KV state is moved to its new position and only the
  edited tokens are evaluated.
- **Speculative decoding.** Where the rollout gate says so, each decoded token is verified in one batch with
  a draft of the next ones: from the prompt (lookup) or from a smaller model of the same vocabulary
  (`llama_draft.py`); the answer is exactly greedy decoding's.
- **Token healing.** `forced_prefix` is generated under a constraint (only tokens consistent with it), so the
  model picks the tokenization of the prompt boundary itself.
- **Cancellation within one token.** The cancel flag is checked before every sampled token and between prefill
  chunks of `prefill_chunk` tokens; at the same boundaries `request.checkpoint()` lets the shared CPU scheduler
  pause this generation for a more urgent one of another model (`scheduler.py`).

Decoding is greedy (completion wants the single most likely text). Not thread-safe: one `EngineWorker`
thread owns an instance; the tokenizer methods only read the vocabulary and may be called from any thread.
"""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from keystroke.domain.engines.base import (
    Candidate,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    GenerationStats,
    ModelInfo,
    TokenEvent,
)
from keystroke.domain.engines.host_memory import keep_large_buffers_mapped
from keystroke.domain.engines.kv_slots import Chunk, SlotStore, common_prefix_length, plan_chunk
from keystroke.domain.engines.llama_draft import ModelDrafter
from keystroke.domain.engines.llama_kv import LiveKv, open_two_sequence_context
from keystroke.domain.engines.llama_tokenizer import LlamaTokenizer
from keystroke.domain.engines.model_source import ModelSource
from keystroke.domain.engines.speculation import SpeculationGate, lookup_draft
from keystroke.errors import ConfigError, EngineError, ModelLoadError

Logits = npt.NDArray[np.float32]
Emit = Callable[[GenerationEvent], None]
STASH_MIN_TOKENS = 64  # save the live state before losing at least this many tokens of it (saving: ~3 ms/1k)
RESTORE_MIN_GAIN = 16  # restore a slot when it shares this many more tokens than the live state
DRAFT_TOKENS = 8  # longest prompt-lookup draft verified in one batch
SUPERSEDE_SHARE = 0.75  # a saved slot sharing this much of its tokens with a newer one is its older version


class LlamaEngine(LlamaTokenizer):
    """A loaded GGUF model and its single context (and, as a `LlamaTokenizer`, its vocabulary)."""

    def __init__(
        self,
        source: ModelSource,
        *,
        n_ctx: int,
        n_threads: int | None,
        prefill_chunk: int,
        slot_bytes: int = 256 << 20,
        max_slots: int = 16,
        min_chunk: int = 32,
        speculation: SpeculationGate | None = None,
        drafter: ModelDrafter | None = None,
    ) -> None:
        import llama_cpp

        keep_large_buffers_mapped()  # KV slots come and go all day: their memory must go back to the system
        self._lib: Any = llama_cpp
        threads = n_threads or max(1, os.cpu_count() or 1)
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(source.path),
                n_ctx=n_ctx,
                n_batch=max(prefill_chunk, 512),
                n_ubatch=max(prefill_chunk, 512),
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {source.path}: {exc}") from exc
        open_two_sequence_context(self._llm)
        super().__init__(self._llm)
        self.n_ctx = n_ctx
        self.prefill_chunk = prefill_chunk
        self.info = ModelInfo(
            name=str(self._llm.metadata.get("general.name") or source.name),
            source=source.reference,
            tokenizer_id=self.vocabulary.fingerprint,
            n_ctx=n_ctx,
            special_tokens=frozenset(self.vocabulary.special),
        )
        self._live = LiveKv(llama_cpp, self._llm)
        self.slots = SlotStore(slot_bytes, max_slots)
        self.min_chunk = min_chunk if self._live.can_shift else 0
        self.gate = speculation or SpeculationGate("off")
        if drafter is not None and drafter.vocabulary.fingerprint != self.vocabulary.fingerprint:
            drafter.close()
            raise ConfigError(
                f"the draft model {drafter.name} has another vocabulary than {self.info.name}; a draft model "
                f"must share the target's tokenizer (Qwen2.5-Coder-0.5B drafts for the 1.5B)"
            )
        self.drafter = drafter  # speculative drafts from this model; None: by prompt lookup
        self.last_prompt: list[int] = []
        self._saved_len = -1
        self._saved_logits: Logits | None = None

    # -- generation (worker thread only) ----------------------------------------------------------------

    def run(self, request: GenerationRequest, emit: Emit, queue_ms: float) -> GenerationStats:
        """Generate for `request`, emitting a TokenEvent per sampled token; returns the statistics."""
        tokens = self.encode(request.prompt)
        self.last_prompt = tokens
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise EngineError(f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx} tokens")
        started = time.perf_counter()
        cached, logits = self._prefill(tokens, request)
        prefill_ms = (time.perf_counter() - started) * 1000
        decode_started = time.perf_counter()
        finish: FinishReason = "cancelled"
        candidates: tuple[Candidate, ...] = ()
        produced, decoded = 0, 1
        drafts: Drafts | None = None
        if logits is not None:
            limit = min(request.max_tokens, room)
            speculate = request.rank is None and self.gate.choose(request.speculation_key)
            drafts = Drafts() if speculate else None
            greedy = self._decode(logits, request, limit, emit, drafts=drafts)
            if greedy.finish != "cancelled":
                spent = (time.perf_counter() - decode_started) * 1000
                self.gate.record(request.speculation_key, speculate, greedy.produced, spent, drafts or Drafts())
            produced, finish = greedy.produced, greedy.finish
            if request.rank is not None and finish != "cancelled":
                candidates, extra, decoded = self._rank(len(tokens), logits, request, limit, greedy)
                produced += extra
                if request.cancel.cancelled:  # a choice among the candidates decoded so far is not the answer
                    candidates, finish = (), "cancelled"
        return GenerationStats(
            prompt_tokens=len(tokens),
            cached_tokens=cached,
            completion_tokens=produced,
            queue_ms=queue_ms,
            prefill_ms=prefill_ms,
            decode_ms=(time.perf_counter() - decode_started) * 1000,
            finish_reason=finish,
            cancel_reason=request.cancel.reason if finish == "cancelled" else None,
            candidates=candidates,
            decoded_candidates=decoded,
            draft_rounds=drafts.rounds if drafts else 0,
            draft_accepted=drafts.accepted if drafts else 0,
        )

    def reset(self) -> None:
        """Forget the KV state and every saved slot (the next prompt is evaluated cold)."""
        self._truncate(0)
        self.slots.clear()
        if self.drafter is not None:
            self.drafter.reset()

    def measure_floor(self, cached: int, decoded: int) -> float:
        """Milliseconds raw llama.cpp takes for the last request's work: evaluate its prompt after `cached`
        tokens in one call, then `decoded` greedy tokens, with none of keystroke's logic. Leaves the KV state
        as a request would (prompt evaluated, its logits kept), so the next request finds the same cache."""
        prompt = self.last_prompt
        self._truncate(cached)
        started = time.perf_counter()
        if cached < len(prompt) or self._saved_logits is None:
            self._truncate(min(cached, len(prompt) - 1))
            self._eval(prompt[len(self._live.tokens) :])
            logits = self._logits()
            elapsed = time.perf_counter() - started
            self._saved_len, self._saved_logits = len(prompt), logits.copy()
        else:
            logits, elapsed = self._saved_logits, 0.0
        started = time.perf_counter()
        for _ in range(decoded - 1):
            self._eval([int(np.argmax(logits))])
            logits = self._logits()
        return (elapsed + time.perf_counter() - started) * 1000

    def warm_drafter(self) -> None:
        """Bring the draft model's KV state to the last prompt, as the target's is: where the next speculative
        request of the same text starts (benchmarks compare arms from equally warm caches)."""
        if self.drafter is not None and self.last_prompt:
            self.drafter.draft(self.last_prompt, 1, self._live.owner)

    def raw_eval(self, tokens: Sequence[int]) -> Logits:
        """Evaluate `tokens` after the KV state in one call, with none of keystroke's logic (the benchmarks'
        floor); the logits after the last one."""
        self._eval(tokens)
        return self._logits()

    def _prefill(self, tokens: list[int], request: GenerationRequest) -> tuple[int, Logits | None]:
        """Evaluate what the KV state lacks of `tokens`; (tokens served from the cache, logits at the end, or
        None when cancelled)."""
        common, chunk = self._choose_base(request.cache_owner, tokens)
        if common == len(tokens) and self._saved_len == len(tokens) and self._saved_logits is not None:
            self._truncate(common)
            return common, self._saved_logits
        common = min(common, len(tokens) - 1)
        self._saved_len, self._saved_logits = -1, None
        if chunk is not None:
            if not self._live.move_chunk(chunk, tokens, common, lambda part: self._evaluate(part, request)):
                return common, None
            self.slots.counters.chunk_reuses += 1
            self.slots.counters.chunk_tokens += chunk.length
            cached = common + chunk.length
        else:
            self._truncate(common)
            cached = common
        if not self._evaluate(tokens[len(self._live.tokens) :], request):
            return cached, None
        self._saved_len = self._live.prompt_len = len(tokens)
        self._saved_logits = self._logits().copy()
        return cached, self._saved_logits

    def _choose_base(self, owner: str, tokens: list[int]) -> tuple[int, Chunk | None]:
        """Make the live state the owner's best start for `tokens`: itself, or a saved slot sharing a longer
        prefix; save it first if it is about to lose much. Returns the shared prefix and a chunk to move."""
        live = self._live
        mine = live.owner == owner
        common = common_prefix_length(live.tokens, tokens) if mine else 0
        chunk = self._plan(tokens, common) if mine else None
        kept = common + (chunk.length if chunk is not None else 0)
        # a slot shares at most the whole prompt: when that is not RESTORE_MIN_GAIN more, no slot is worth a look
        worth_looking = kept + RESTORE_MIN_GAIN <= len(tokens)
        slot, slot_common = self.slots.best(owner, tokens) if worth_looking else (None, 0)
        if min(len(live.tokens), live.prompt_len) - kept >= STASH_MIN_TOKENS:  # decoded tokens are not worth it
            self._stash()
        if slot is not None and slot_common >= kept + RESTORE_MIN_GAIN:
            self._saved_len, self._saved_logits = -1, None
            live.restore(slot)
            self.slots.touch(slot)
            common = slot_common
            chunk = self._plan(tokens, common)
        elif not mine:
            self._truncate(0)  # another tenant's KV state: identical text must not be served from it
            live.owner = owner
        return common, chunk

    def _plan(self, tokens: list[int], common: int) -> Chunk | None:
        """A cached run to move after an edit; it stops one token short of the prompt's end, whose logits
        must be computed."""
        return plan_chunk(self._live.tokens, tokens[:-1], min(common, len(tokens) - 1), self.min_chunk)

    def _stash(self) -> None:
        """Save the live state as a slot, replacing saved slots it is a newer version of."""
        if self.slots.budget_bytes <= 0:
            return
        slot = self._live.save()
        stale = [
            old
            for old in self.slots.slots_of(slot.owner)
            if common_prefix_length(old.tokens, slot.tokens) >= SUPERSEDE_SHARE * len(old.tokens)
        ]
        self.slots.save(slot, replacing=stale)

    def _evaluate(self, tokens: Sequence[int], request: GenerationRequest) -> bool:
        """Evaluate `tokens` after the live state in chunks of `prefill_chunk`; False if cancelled first."""
        for start in range(0, len(tokens), self.prefill_chunk):
            request.checkpoint()
            if request.cancel.cancelled:
                return False
            self._eval(tokens[start : start + self.prefill_chunk])
        return True

    def _decode(
        self,
        logits: Logits,
        request: GenerationRequest,
        limit: int,
        emit: Emit,
        start: Sequence[int] = (),
        drafts: Drafts | None = None,
    ) -> _Run:
        """Greedy decoding under the forced prefix, stop check and cancel flag; `start` forces the first
        tokens (a branch). With `drafts`, each token evaluated is verified together with a prompt-lookup draft
        (`speculation.py`), and the accepted draft tokens are emitted without evaluating them again. The KV
        state must end at the prompt; it ends after the last evaluated token."""
        vocab = self.vocabulary
        stop_ids = self._stop_ids(request)
        remaining = request.forced_prefix.encode("utf-8")
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        chosen: list[int] = []
        verified: list[int] = []  # accepted draft tokens, already in the KV state, still to emit
        after_verified: Logits | None = None
        text = ""
        for produced in range(1, limit + 1):
            request.checkpoint()
            if request.cancel.cancelled:
                return _Run(tuple(chosen), text, produced - 1, "cancelled")
            in_kv = bool(verified)
            if in_kv:
                token = verified.pop(0)
            elif produced <= len(start):
                token = start[produced - 1]
            else:
                if remaining and self.vocabulary.consistent_ids(remaining).size == 0:
                    logits, remaining = self._unspellable(remaining), b""
                token = self._pick(logits, remaining)
            if token in stop_ids:
                return _Run(tuple(chosen), text, produced - 1, "eos")
            chosen.append(token)
            piece = vocab.pieces[token]
            if remaining:
                piece, remaining = _consume(piece, remaining)
            delta = decoder.decode(piece)
            text += delta
            emit(TokenEvent(delta))
            if request.stop is not None and not remaining and request.stop(text):
                return _Run(tuple(chosen), text, produced, "stop")
            if produced == limit:
                break
            if in_kv:
                if not verified and after_verified is not None:
                    logits = after_verified
                continue
            draft = []
            if drafts is not None and not remaining:
                draft = self._draft(request, self.last_prompt + chosen, min(DRAFT_TOKENS, limit - produced))
            if draft:
                logits, verified, after_verified = self._verify(token, draft, drafts)
            else:
                self._eval([token])
                logits = self._logits()
        return _Run(tuple(chosen), text, limit, "length")

    def _draft(self, request: GenerationRequest, history: list[int], length: int) -> list[int]:
        """The next tokens to verify: the draft model's guess, else the prompt's (lookup)."""
        if self.drafter is not None:
            return self.drafter.draft(history, length, request.cache_owner)
        return lookup_draft(history, length=length)

    def _verify(self, token: int, draft: list[int], drafts: Drafts | None) -> tuple[Logits, list[int], Logits]:
        """Evaluate `token` and `draft` in one batch; keep the draft's prefix greedy decoding agrees with.
        Returns (logits after `token`, accepted draft tokens, logits after the last accepted one)."""
        rows = self._live.eval_all([token, *draft], len(self.vocabulary))
        accepted = 0
        while accepted < len(draft) and int(np.argmax(rows[accepted])) == draft[accepted]:
            accepted += 1
        self._truncate(len(self._live.tokens) - (len(draft) - accepted))
        if drafts is not None:
            drafts.rounds += 1
            drafts.accepted += accepted
        return rows[0], draft[:accepted], rows[accepted]

    def _rank(
        self, prompt_len: int, logits: Logits, request: GenerationRequest, limit: int, greedy: _Run
    ) -> tuple[tuple[Candidate, ...], int, int]:
        """Decode the plan's alternatives, then score the contenders; (candidates, tokens decoded, runs)."""
        assert request.rank is not None
        plan = request.rank
        runs = [greedy]
        produced = 0
        for branch in self._branches(prompt_len, logits, request, greedy, plan.alternatives):
            request.checkpoint()
            if request.cancel.cancelled:
                break
            self._truncate(prompt_len)
            run = self._decode(logits, request, limit, _ignore, branch)
            runs.append(run)
            produced += run.produced
        shown = [plan.accept(run.text) for run in runs if run.finish in ("stop", "eos")]
        contenders = plan.contenders(list(dict.fromkeys(t for t in shown if t is not None)))
        if len(contenders) == 1:
            return (Candidate(contenders[0], None),), produced, len(runs)
        candidates: list[Candidate] = []
        ends = sorted(self._stop_ids(request)) if plan.then_end else []
        for text in contenders:
            request.checkpoint()
            if request.cancel.cancelled:
                break
            score = self._score(prompt_len, logits, request.forced_prefix + text + plan.continuation, ends)
            candidates.append(Candidate(text, score))
        return tuple(candidates), produced, len(runs)

    def _branches(
        self, prompt_len: int, logits: Logits, request: GenerationRequest, greedy: _Run, count: int
    ) -> list[tuple[int, ...]]:
        """Starts of alternative candidates: the next-best second tokens after the greedy first token
        (half, rounded up), then the next-best first tokens."""
        if not greedy.tokens or count <= 0:
            return []
        forced = request.forced_prefix.encode("utf-8")
        first = greedy.tokens[0]
        at_second = (count + 1) // 2
        self._truncate(prompt_len)
        self._eval([first])
        after_first = _consume(self.vocabulary.pieces[first], forced)[1] if forced else b""
        seconds = self._ranked(self._logits(), after_first, at_second + 1)
        branches = [(first, t) for t in seconds if greedy.tokens[1:2] != (t,)][:at_second]
        firsts = [t for t in self._ranked(logits, forced, count - len(branches) + 1) if t != first]
        return branches + [(t,) for t in firsts[: count - len(branches)]]

    def _ranked(self, logits: Logits, remaining: bytes, count: int) -> list[int]:
        ids = self.vocabulary.consistent_ids(remaining) if remaining else None
        pool = logits if ids is None else logits[ids]
        best = np.argsort(-pool)[:count]
        chosen = best if ids is None else ids[best]
        return [int(t) for t in chosen if int(t) not in self.vocabulary.end_ids]

    def _score(self, prompt_len: int, logits: Logits, text: str, ends: Sequence[int] = ()) -> float:
        """log P(text | prompt), evaluating `text` in one batch right after the prompt; with `ends`, plus
        log P(one of `ends` comes next)."""
        tokens = self.tokenize(text)[: max(1, self._llm.n_batch - 1)]
        self._truncate(prompt_len)
        rows = self._live.eval_all(tokens, len(self.vocabulary))
        total = 0.0
        for index, token in enumerate(tokens):
            row = logits if index == 0 else rows[index - 1]
            total += float(row[token] - _logsumexp(row))
        if ends:
            last = rows[len(tokens) - 1]
            total += float(_logsumexp(last[list(ends)]) - _logsumexp(last))
        return total

    def _stop_ids(self, request: GenerationRequest) -> frozenset[int]:
        """The tokens that end a generation: the vocabulary's end tokens and the request's stop tokens."""
        vocab = self.vocabulary
        return vocab.end_ids | {vocab.special[t] for t in request.stop_tokens if t in vocab.special}

    def _unspellable(self, remaining: bytes) -> Logits:
        """The forced text holds bytes no token of the vocabulary spells alone (a character the tokenizer
        maps lossily): it is evaluated as prompt text instead, as the tokenizer reads it, and decoding goes
        on unconstrained from there. Returns the logits after it."""
        tail = list(self._llm.tokenize(remaining, add_bos=False, special=False))
        if tail:
            self._eval(tail)
        return self._logits()

    def _pick(self, logits: Logits, remaining: bytes) -> int:
        if not remaining:
            return int(np.argmax(logits))
        allowed = self.vocabulary.consistent_ids(remaining)
        if allowed.size == 0:
            raise EngineError(f"no token of the vocabulary can produce the {len(remaining)} forced bytes")
        return int(allowed[int(np.argmax(logits[allowed]))])

    def _eval(self, tokens: Sequence[int]) -> None:
        self._live.eval(tokens)

    def _logits(self) -> Logits:
        pointer = self._lib.llama_get_logits_ith(self._llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(len(self.vocabulary),))

    def _truncate(self, length: int) -> None:
        self._live.truncate(length)
        if length < self._saved_len:
            self._saved_len, self._saved_logits = -1, None

    def close(self) -> None:
        if self.drafter is not None:
            self.drafter.close()
        self._llm.close()


@dataclass
class Drafts:
    """Speculative decoding's tally for one request: verification rounds and draft tokens accepted."""

    rounds: int = 0
    accepted: int = 0


@dataclass(frozen=True)
class _Run:
    """One decoded candidate: its tokens, its text after the forced prefix, tokens decoded, why it ended."""

    tokens: tuple[int, ...]
    text: str
    produced: int
    finish: FinishReason


def _ignore(event: GenerationEvent) -> None:
    """Emit target for alternative candidates, which are not streamed."""


def _logsumexp(row: Logits) -> float:
    peak = float(row.max())
    return peak + float(np.log(np.exp(row - peak).sum()))


def _consume(piece: bytes, remaining: bytes) -> tuple[bytes, bytes]:
    """Split a sampled piece against the still-forced bytes: (text beyond the forced part, still forced)."""
    if piece.startswith(remaining):
        return piece[len(remaining) :], b""
    return b"", remaining[len(piece) :]
