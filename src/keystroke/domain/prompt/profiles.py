"""Model profiles: how to lay out a completion prompt for each model family.

A profile is chosen by looking for the family's fill-in-the-middle (FIM) control tokens in the model's
vocabulary; a model without any (like the default SmolLM2) gets the left-to-right profile, whose prompt is the
prefix alone (the suffix is then used by post-processing). Orders, as slot sequences:

    psm   PRE prefix SUF suffix MID           prefix-suffix-middle, what every FIM family was trained on
    spm   PRE SUF suffix MID prefix           "SPM variant 2" (StarCoder, Code Llama): ends with the prefix,
                                              so typing only changes the prompt's tail and the KV cache stays warm
    native                                    Codestral's own [SUFFIX] suffix [PREFIX] prefix

A family's first order is its default: SPM for the families trained with both orders (StarCoder, SantaCoder,
Code Llama, CodeGemma), so the suffix stays cached while the user types, and for Qwen2.5-Coder, where it was
measured better (HumanEval single-line, all 1,033 tasks, Qwen2.5-Coder-0.5B greedy: 0.533 exact match against
PSM's 0.456; docs/measurements.md); PSM for DeepSeek-Coder (trained with PSM; its suffix's keys are moved in
the KV cache behind each typed character rather than evaluated again); Codestral's native order already ends
with the prefix.

Families trained on whole repositories (Qwen2.5-Coder: `<|repo_name|>` name, then `<|file_sep|>` path and code
per file, then the current file) carry those markers as `repository`, and context from other files is laid out
that way (`assembly.py`).

Token spellings differ between conversions (Code Llama's `▁<PRE>`), so detection compares normalised text and
the resolved profile carries the vocabulary's exact spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from keystroke.errors import ConfigError

L2R = "l2r"
Slot = str  # "PRE", "SUF", "MID" (control tokens) or "prefix", "suffix" (text)

ORDERS: Mapping[str, tuple[Slot, ...]] = {
    "psm": ("PRE", "prefix", "SUF", "suffix", "MID"),
    "spm": ("PRE", "SUF", "suffix", "MID", "prefix"),
    "native": ("SUF", "suffix", "PRE", "prefix"),
}


@dataclass(frozen=True)
class FimFamily:
    """A family's FIM markers (normalised spelling), the orders it supports, and its extra stop markers."""

    name: str
    markers: Mapping[str, str]
    orders: tuple[str, ...]
    stops: tuple[str, ...]
    requires: tuple[str, ...] = ()
    repository: Mapping[str, str] | None = None  # REPO, FILE: the markers of its repository-level prompts


FAMILIES: tuple[FimFamily, ...] = (
    FimFamily(
        "deepseek-coder",
        {"PRE": "<｜fim▁begin｜>", "SUF": "<｜fim▁hole｜>", "MID": "<｜fim▁end｜>"},
        ("psm", "spm"),
        ("<｜end▁of▁sentence｜>", "<|EOT|>"),
    ),
    FimFamily(
        "codestral",
        {"PRE": "[PREFIX]", "SUF": "[SUFFIX]", "MID": "[MIDDLE]"},
        ("native", "psm"),
        ("</s>",),
    ),
    FimFamily(
        "codellama",
        {"PRE": "<PRE>", "SUF": "<SUF>", "MID": "<MID>"},
        ("spm", "psm"),
        ("<EOT>",),
    ),
    FimFamily(
        "santacoder",
        {"PRE": "<fim-prefix>", "SUF": "<fim-suffix>", "MID": "<fim-middle>"},
        ("spm", "psm"),
        ("<|endoftext|>", "<fim-pad>"),
    ),
    FimFamily(
        "starcoder",
        {"PRE": "<fim_prefix>", "SUF": "<fim_suffix>", "MID": "<fim_middle>"},
        ("spm", "psm"),
        ("<|endoftext|>", "<fim_pad>", "<file_sep>", "<filename>", "<repo_name>"),
    ),
    FimFamily(
        "codegemma",
        {"PRE": "<|fim_prefix|>", "SUF": "<|fim_suffix|>", "MID": "<|fim_middle|>"},
        ("spm", "psm"),
        ("<|file_separator|>", "<eos>", "<end_of_turn>"),
        requires=("<|file_separator|>",),
    ),
    FimFamily(
        "qwen2.5-coder",
        {"PRE": "<|fim_prefix|>", "SUF": "<|fim_suffix|>", "MID": "<|fim_middle|>"},
        ("spm", "psm"),
        ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"),
        repository={"REPO": "<|repo_name|>", "FILE": "<|file_sep|>"},
    ),
)


@dataclass(frozen=True)
class ModelProfile:
    """The resolved prompt layout for one loaded model."""

    name: str
    order: str
    markers: Mapping[str, str]
    stop_tokens: tuple[str, ...]
    repository: Mapping[str, str] | None = None  # the family's repository markers, when the vocabulary has them

    @property
    def uses_fim(self) -> bool:
        return self.order != L2R

    @property
    def label(self) -> str:
        return self.name if self.order == L2R else f"{self.name}:{self.order}"

    @property
    def ends_with_prefix(self) -> bool:
        return self.order == L2R or ORDERS[self.order][-1] == "prefix"


def normalise(token: str) -> str:
    """A marker without SentencePiece's leading word mark (`▁<PRE>` and ` <PRE>` are `<PRE>`)."""
    return token.strip().removeprefix("▁").strip()


def profile_names() -> list[str]:
    return [L2R] + [f"{family.name}:{order}" for family in FAMILIES for order in family.orders]


def detect_profile(special_tokens: Iterable[str], override: str | None = None) -> ModelProfile:
    """The profile for a vocabulary's control tokens; `override` is a name from `profile_names()`."""
    spelled = {normalise(token): token for token in special_tokens}
    if override is not None:
        return _resolve_override(override, spelled)
    for family in FAMILIES:
        if _has(family, spelled):
            return _resolve(family, family.orders[0], spelled)
    return left_to_right()


def left_to_right() -> ModelProfile:
    return ModelProfile(L2R, L2R, {}, ())


def _has(family: FimFamily, spelled: Mapping[str, str]) -> bool:
    needed = list(family.markers.values()) + list(family.requires)
    return all(marker in spelled for marker in needed)


def _resolve(family: FimFamily, order: str, spelled: Mapping[str, str]) -> ModelProfile:
    markers = {slot: spelled[text] for slot, text in family.markers.items()}
    stops = tuple(spelled[s] for s in family.stops if s in spelled)
    repository = None
    if family.repository and all(marker in spelled for marker in family.repository.values()):
        repository = {slot: spelled[text] for slot, text in family.repository.items()}
    return ModelProfile(family.name, order, markers, stops, repository)


def _resolve_override(override: str, spelled: Mapping[str, str]) -> ModelProfile:
    if override == L2R:
        return left_to_right()
    name, _, order = override.partition(":")
    family = next((f for f in FAMILIES if f.name == name), None)
    if family is None or (order and order not in family.orders):
        raise ConfigError(f"unknown profile {override!r}; choose one of: {', '.join(profile_names())}")
    if not _has(family, spelled):
        missing = [m for m in family.markers.values() if m not in spelled]
        raise ConfigError(
            f"profile {override!r} needs the control tokens {', '.join(missing)}, which this model's vocabulary "
            f"lacks; run `keystroke models` to see the detected profile, or use --profile {L2R}"
        )
    return _resolve(family, order or family.orders[0], spelled)
