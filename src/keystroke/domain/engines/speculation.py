"""Speculative decoding by prompt lookup, and the rollout gate that decides where it runs.

Code repeats itself: the tokens after the last few generated ones have often already appeared in the prompt
(a name, an argument list, a line like the one above). `lookup_draft` finds the latest earlier occurrence of
the last `ngram` tokens (longest n first) and proposes the tokens that followed it. The engine evaluates the
sampled token and the draft in one batch and keeps the draft's longest prefix that greedy decoding would
have produced anyway, so the output is exactly the same as without speculation; only the number of engine
calls changes. On a CPU a batch of 9 tokens costs more than one, so it pays only where drafts are accepted.

`SpeculationGate` decides per language and lane ("python/inline"). Mode "on" and "off" are fixed; in mode
"gated" requests alternate between speculative and plain decoding until each arm has `samples` requests,
then speculation stays on only if its mean accepted draft length is at least `min_accept` tokens and its
decode time per token is at least `min_gain` times faster than plain decoding. Not thread-safe: the
engine's worker thread owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

GateMode = Literal["off", "on", "gated"]


class Drafted(Protocol):
    rounds: int
    accepted: int


def lookup_draft(history: Sequence[int], *, max_ngram: int = 3, min_ngram: int = 2, length: int = 8) -> list[int]:
    """Up to `length` tokens that followed the latest earlier occurrence of the history's last n tokens."""
    for n in range(max_ngram, min_ngram - 1, -1):
        if len(history) <= n:
            continue
        tail = list(history[-n:])
        for start in range(len(history) - n - 1, -1, -1):
            if history[start] == tail[0] and list(history[start : start + n]) == tail:
                draft = list(history[start + n : start + n + length])
                if draft:
                    return draft
    return []


@dataclass
class Arm:
    """One way of decoding (speculative or plain) for one key: what it cost and what drafts achieved."""

    requests: int = 0
    tokens: int = 0
    decode_ms: float = 0.0
    rounds: int = 0  # verification rounds (a draft was proposed)
    accepted: int = 0  # draft tokens accepted in them

    @property
    def ms_per_token(self) -> float | None:
        return self.decode_ms / self.tokens if self.tokens else None

    @property
    def mean_accepted(self) -> float | None:
        return self.accepted / self.rounds if self.rounds else None


@dataclass
class GateKey:
    speculative: Arm = field(default_factory=Arm)
    plain: Arm = field(default_factory=Arm)
    decision: bool | None = None


@dataclass
class SpeculationGate:
    mode: GateMode = "gated"
    samples: int = 20
    min_accept: float = 1.5
    min_gain: float = 1.1
    keys: dict[str, GateKey] = field(default_factory=dict)

    def choose(self, key: str) -> bool:
        """Whether this request of `key` decodes speculatively."""
        if self.mode != "gated":
            return self.mode == "on"
        state = self.keys.setdefault(key, GateKey())
        if state.decision is not None:
            return state.decision
        return state.speculative.requests <= state.plain.requests

    def record(self, key: str, speculative: bool, tokens: int, decode_ms: float, drafts: Drafted) -> None:
        """One finished decode of `key`: tokens produced, its time, and (if speculative) its drafts."""
        state = self.keys.setdefault(key, GateKey())
        arm = state.speculative if speculative else state.plain
        arm.requests += 1
        arm.tokens += tokens
        arm.decode_ms += decode_ms
        arm.rounds += drafts.rounds
        arm.accepted += drafts.accepted
        measured = min(state.speculative.requests, state.plain.requests) >= self.samples
        if self.mode == "gated" and state.decision is None and measured:
            state.decision = self.passes(state)

    def gain(self, state: GateKey) -> float | None:
        fast, slow = state.speculative.ms_per_token, state.plain.ms_per_token
        return slow / fast if fast and slow else None

    def report(self) -> dict[str, dict[str, Any]]:
        """Per key: both arms' figures, the latency gain, and the decision (None: still measuring)."""
        return {
            key: {
                "speculative_ms_per_token": state.speculative.ms_per_token,
                "plain_ms_per_token": state.plain.ms_per_token,
                "mean_accepted": state.speculative.mean_accepted,
                "gain": self.gain(state),
                "requests": [state.speculative.requests, state.plain.requests],
                "decision": state.decision,
            }
            for key, state in self.keys.items()
        }

    def passes(self, state: GateKey) -> bool:
        """Whether the measurements so far clear both thresholds."""
        accepted, gain = state.speculative.mean_accepted, self.gain(state)
        return accepted is not None and gain is not None and accepted >= self.min_accept and gain >= self.min_gain
