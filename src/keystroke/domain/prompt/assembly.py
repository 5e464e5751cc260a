"""Prompt assembly: a model profile, the code around the cursor and context snippets -> one Prompt.

Order and cuts are chosen for the KV cache as much as for the model:
- context snippets come first, in the order given (they change only when the editor re-ranks them);
- the prefix is cut on a coarse grid of line starts (`fit_prefix`), so while the user types the cut stays put
  and consecutive prompts share everything up to the cursor;
- the suffix is cut at a line end within its share of the budget (`suffix_share`), and is only part of the
  prompt for FIM profiles; a left-to-right profile uses it in post-processing instead;
- the prompt's last pre-token is handed to the engine as `forced_prefix` (token healing) when it can take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keystroke.domain.engines.base import Prompt, PromptPart, Special, Tokenizer
from keystroke.domain.prompt.boundary import split_boundary
from keystroke.domain.prompt.languages import line_comment
from keystroke.domain.prompt.profiles import ORDERS, ModelProfile

MARKER_RESERVE = 8
CONTEXT_SHARE = 0.25
MAX_CHARS_PER_TOKEN = 8


@dataclass(frozen=True)
class Snippet:
    filepath: str
    body: str


@dataclass(frozen=True)
class PromptInput:
    prefix: str
    suffix: str
    language: str | None = None
    filepath: str | None = None
    snippets: Sequence[Snippet] = ()


@dataclass(frozen=True)
class AssembledPrompt:
    prompt: Prompt
    forced_prefix: str
    prefix_chars: int
    suffix_chars: int


def assemble(
    profile: ModelProfile,
    source: PromptInput,
    tokenizer: Tokenizer,
    *,
    budget_tokens: int,
    suffix_share: float,
    heal: bool,
    context_share: float = CONTEXT_SHARE,
) -> AssembledPrompt:
    kept, forced = split_boundary(source.prefix) if heal else (source.prefix, "")
    budget = budget_tokens - MARKER_RESERVE
    suffix = fit_suffix(source.suffix, int(budget * suffix_share), tokenizer) if profile.uses_fim else ""
    budget -= tokenizer.count_tokens(suffix)
    context = render_context(source, int(budget * context_share), tokenizer)
    budget -= tokenizer.count_tokens(context)
    prefix = fit_prefix(kept, budget, tokenizer)
    prompt = Prompt(_layout(profile, context + prefix, suffix))
    return AssembledPrompt(prompt, forced, prefix_chars=len(prefix), suffix_chars=len(suffix))


def fit_prefix(text: str, max_tokens: int, tokenizer: Tokenizer) -> str:
    """The end of `text` within `max_tokens`, cut at a line start on a grid that moves only every ~quantum."""
    if max_tokens <= 0:
        return ""
    if len(text.encode("utf-8")) <= max_tokens:
        return text
    window_start = max(0, len(text) - max_tokens * MAX_CHARS_PER_TOKEN)
    needed = window_start + tokenizer.tail_start(text[window_start:], max_tokens)
    if needed == 0:
        return text
    quantum = max(256, max_tokens)
    grid = -(-needed // quantum) * quantum
    newline = text.find("\n", grid - 1)
    cut = newline + 1 if newline >= 0 else grid
    return text[cut:]


def fit_suffix(text: str, max_tokens: int, tokenizer: Tokenizer) -> str:
    """The start of `text` within `max_tokens`, cut at a line end."""
    if max_tokens <= 0:
        return ""
    if len(text.encode("utf-8")) <= max_tokens:
        return text
    window = text[: max_tokens * MAX_CHARS_PER_TOKEN]
    end = tokenizer.head_end(window, max_tokens)
    if end >= len(text):
        return text
    newline = text.rfind("\n", 0, end)
    return text[: newline + 1] if newline >= 0 else text[:end]


def context_budget(budget_tokens: int, *, fim: bool, suffix_share: float, context_share: float) -> int:
    """Tokens `assemble` always grants the context blocks (it may grant more when the suffix is short)."""
    budget = budget_tokens - MARKER_RESERVE
    return max(0, int(budget * (1 - suffix_share if fim else 1.0) * context_share))


def render_block(language: str | None, filepath: str, body: str) -> str:
    """One context snippet as a commented block headed by its path."""
    comment = line_comment(language)
    lines = [f"{comment} Path: {filepath}"]
    lines += [f"{comment} {line}" if line else comment for line in body.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


def render_header(language: str | None, filepath: str | None) -> str:
    """The line that names the current file after the context blocks."""
    return f"{line_comment(language)} Path: {filepath}\n" if filepath else ""


def render_context(source: PromptInput, max_tokens: int, tokenizer: Tokenizer) -> str:
    """Snippets as commented blocks, in the given order, then the current file's path; all within `max_tokens`
    (a block that does not fit ends the context: later blocks rank lower)."""
    if not source.snippets or max_tokens <= 0:
        return ""
    header = render_header(source.language, source.filepath)
    used = tokenizer.count_tokens(header) if header else 0
    blocks: list[str] = []
    for snippet in source.snippets:
        block = render_block(source.language, snippet.filepath, snippet.body)
        cost = tokenizer.count_tokens(block)
        if used + cost > max_tokens:
            break
        blocks.append(block)
        used += cost
    return "".join(blocks) + header if blocks else ""


def _layout(profile: ModelProfile, prefix: str, suffix: str) -> tuple[PromptPart, ...]:
    if not profile.uses_fim:
        return (prefix,)
    text = {"prefix": prefix, "suffix": suffix}
    parts: list[PromptPart] = []
    for slot in ORDERS[profile.order]:
        if slot in text:
            if text[slot]:
                parts.append(text[slot])
        else:
            parts.append(Special(profile.markers[slot]))
    return tuple(parts)
