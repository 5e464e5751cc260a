"""Prompt assembly: a model profile, the code around the cursor and context snippets -> one Prompt.

Order and cuts are chosen for the KV cache as much as for the model:
- context snippets come first, in the order given (they change only when the editor re-ranks them), within
  their own budget on top of the code's, so adding context never cuts the code around the cursor;
- the prefix is cut on a coarse grid of line starts (`fit_prefix`), so while the user types the cut stays put
  and consecutive prompts share everything up to the cursor;
- the suffix is cut at a line end within its share of the budget (`suffix_share`), and is only part of the
  prompt for FIM profiles; a left-to-right profile uses it in post-processing instead;
- the prompt's last pre-token is handed to the engine as `forced_prefix` (token healing) when it can take it.

Context is laid out in the format the model was trained on: for a family with repository markers (Qwen2.5-Coder)
as a repository, `<|repo_name|>` name, then `<|file_sep|>` path and code per file, then `<|file_sep|>` and the
current file's path, before the FIM prompt (`layout="auto"`); for every other model, and with
`layout="comments"`, as commented blocks headed by their paths at the start of the prefix. Both keep the
context ahead of the code, so it stays in the KV cache while the user types.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from keystroke.domain.engines.base import Prompt, PromptPart, Special, Tokenizer
from keystroke.domain.prompt.boundary import split_boundary
from keystroke.domain.prompt.languages import line_comment
from keystroke.domain.prompt.profiles import ORDERS, ModelProfile

MARKER_RESERVE = 8
CONTEXT_TOKENS = 256
MAX_CHARS_PER_TOKEN = 8
_MEMO_KEY_CHARS = 128
TYPICAL_CHARS_PER_TOKEN = 4
ContextLayout = Literal["auto", "comments"]


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
    repository: str | None = None  # the repository's name, for the repository layout (left out when unknown)


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
    context_tokens: int = CONTEXT_TOKENS,
    memo: PrefixCutMemo | None = None,
    layout: ContextLayout = "auto",
) -> AssembledPrompt:
    """The prompt: code around the cursor within `budget_tokens`, context from other files within
    `context_tokens` on top (context never displaces the code around the cursor)."""
    kept, forced = split_boundary(source.prefix, tokenizer) if heal else (source.prefix, "")
    budget = budget_tokens - MARKER_RESERVE
    suffix = fit_suffix(source.suffix, int(budget * suffix_share), tokenizer) if profile.uses_fim else ""
    budget -= tokenizer.count_tokens(suffix)
    prefix = fit_prefix(kept, budget, tokenizer, memo)
    markers = profile.repository if layout == "auto" and profile.uses_fim else None
    if markers:
        lead = render_repository(source, context_tokens, tokenizer, markers)
        parts = lead + _layout(profile, prefix, suffix)
    else:
        parts = _layout(profile, render_context(source, context_tokens, tokenizer) + prefix, suffix)
    return AssembledPrompt(Prompt(parts), forced, prefix_chars=len(prefix), suffix_chars=len(suffix))


def fit_prefix(text: str, max_tokens: int, tokenizer: Tokenizer, memo: PrefixCutMemo | None = None) -> str:
    """The end of `text` within `max_tokens`, cut at a line start on a grid that moves only every ~quantum."""
    if max_tokens <= 0:
        return ""
    if len(text.encode("utf-8")) <= max_tokens:
        return text
    reused = memo.reuse(text, max_tokens) if memo is not None else None
    if reused is not None:
        return text[reused:]
    needed = _tail_start(text, max_tokens, tokenizer)
    if needed == 0:
        return text
    quantum = max(256, max_tokens)
    grid = -(-needed // quantum) * quantum
    newline = text.find("\n", grid - 1)
    cut = newline + 1 if newline >= 0 else grid
    if memo is not None:
        memo.remember(text, max_tokens, cut, tokenizer.count_tokens(text[cut:]))
    return text[cut:]


class PrefixCutMemo:
    """Where the last prompts' prefixes were cut, so typing does not re-tokenize the whole window.

    While the user types, the new prefix extends the previous one; appending n bytes adds at most n tokens,
    so the previous cut still fits as long as the known count plus the appended bytes stays within the
    budget, and no tokenizing is needed (it costs about 1 ms per 1,000 characters on a CPU). Entries are
    keyed by the text's first characters and the budget, hold the whole text they were computed for, and
    are checked with `startswith`, so a wrong reuse is impossible.

    Size: `capacity` entries (LRU). Thread-safety: a lock around the table. Clear with `clear()`.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, int], tuple[str, int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def reuse(self, text: str, max_tokens: int) -> int | None:
        key = (text[:_MEMO_KEY_CHARS], max_tokens)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        known, cut, tokens = entry
        if not text.startswith(known):
            return None
        grown = tokens + len(text[len(known) :].encode("utf-8"))
        return cut if grown <= max_tokens else None

    def remember(self, text: str, max_tokens: int, cut: int, tokens: int) -> None:
        with self._lock:
            key = (text[:_MEMO_KEY_CHARS], max_tokens)
            self._entries.pop(key, None)
            self._entries[key] = (text, cut, tokens)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _tail_start(text: str, max_tokens: int, tokenizer: Tokenizer) -> int:
    """Where the last `max_tokens` tokens of `text` start. Tokenizing is the costly part (about 1 ms per
    1,000 characters on a CPU), so the window tried first assumes typical code (`TYPICAL_CHARS_PER_TOKEN`)
    and only grows, up to `MAX_CHARS_PER_TOKEN`, when it holds fewer tokens than asked."""
    chars = max_tokens * TYPICAL_CHARS_PER_TOKEN
    while True:
        window_start = max(0, len(text) - chars)
        start = tokenizer.tail_start(text[window_start:], max_tokens)
        if start > 0 or window_start == 0 or chars >= max_tokens * MAX_CHARS_PER_TOKEN:
            return window_start + start
        chars *= 2


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


def render_block(language: str | None, filepath: str, body: str, *, header: bool = True) -> str:
    """One context snippet as a commented block headed by its path (`header=False`: the previous block's
    path is the same, so the header is not repeated)."""
    comment = line_comment(language)
    lines = [f"{comment} Path: {filepath}"] if header else []
    lines += [f"{comment} {line}" if line else comment for line in body.rstrip("\n").split("\n")]
    return "\n".join(lines) + "\n"


def render_header(language: str | None, filepath: str | None) -> str:
    """The line that names the current file after the context blocks."""
    return f"{line_comment(language)} Path: {filepath}\n" if filepath else ""


def render_context(source: PromptInput, max_tokens: int, tokenizer: Tokenizer) -> str:
    """Snippets as commented blocks, in the given order, then the current file's path; all within `max_tokens`
    (a block that does not fit ends the context: later blocks rank lower). Consecutive snippets of one file
    share its header."""
    if not source.snippets or max_tokens <= 0:
        return ""
    header = render_header(source.language, source.filepath)
    used = tokenizer.count_tokens(header) if header else 0
    blocks: list[str] = []
    previous: str | None = None
    for snippet in source.snippets:
        block = render_block(source.language, snippet.filepath, snippet.body, header=snippet.filepath != previous)
        cost = tokenizer.count_tokens(block)
        if used + cost > max_tokens:
            break
        blocks.append(block)
        used += cost
        previous = snippet.filepath
    return "".join(blocks) + header if blocks else ""


def render_repository(
    source: PromptInput, max_tokens: int, tokenizer: Tokenizer, markers: Mapping[str, str]
) -> tuple[PromptPart, ...]:
    """Snippets as files of a repository, in the given order, then the current file's path: `REPO` name,
    `FILE` path + code per file (consecutive snippets of one file share its entry), `FILE` current path; all
    within `max_tokens` (a file that does not fit ends the context; a marker counts as one token)."""
    if not source.snippets or max_tokens <= 0:
        return ()
    head: list[PromptPart] = [Special(markers["REPO"]), f"{source.repository}\n"] if source.repository else []
    tail: list[PromptPart] = [Special(markers["FILE"]), f"{source.filepath or 'untitled'}\n"]
    used = sum(1 if isinstance(p, Special) else tokenizer.count_tokens(p) for p in head + tail)
    files: list[PromptPart] = []
    for filepath, bodies in _by_file(source.snippets):
        text = f"{filepath}\n" + "\n".join(body.rstrip("\n") for body in bodies) + "\n"
        cost = 1 + tokenizer.count_tokens(text)
        if used + cost > max_tokens:
            break
        files += [Special(markers["FILE"]), text]
        used += cost
    return tuple(head + files + tail) if files else ()


def _by_file(snippets: Sequence[Snippet]) -> list[tuple[str, list[str]]]:
    """Consecutive snippets of one file grouped, in order."""
    groups: list[tuple[str, list[str]]] = []
    for snippet in snippets:
        if groups and groups[-1][0] == snippet.filepath:
            groups[-1][1].append(snippet.body)
        else:
            groups.append((snippet.filepath, [snippet.body]))
    return groups


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
