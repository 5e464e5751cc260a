"""Prompt assembly with the real tokenizer: budgets, the stable prefix cut and its memo."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from keystroke.domain.prompt.assembly import CONTEXT_TOKENS, PrefixCutMemo, PromptInput, Snippet, assemble, fit_prefix
from keystroke.services.completion import CompletionService

pytestmark = pytest.mark.model

SOURCE = Path(textwrap.__file__).read_text()


def test_the_cut_prefix_fits_and_starts_a_line(service: CompletionService) -> None:
    tokenizer = service.backend.tokenizer
    for budget in (50, 300, 1000):
        kept = fit_prefix(SOURCE[:15000], budget, tokenizer)
        assert tokenizer.count_tokens(kept) <= budget
        assert SOURCE[:15000].endswith(kept)
        assert SOURCE[: 15000 - len(kept)].endswith("\n")


def test_typing_reuses_the_cut_and_always_fits(service: CompletionService) -> None:
    tokenizer = service.backend.tokenizer
    memo = PrefixCutMemo()
    cuts = set()
    for end in range(12000, 12400, 7):
        text = SOURCE[:end]
        kept = fit_prefix(text, 400, tokenizer, memo)
        assert tokenizer.count_tokens(kept) <= 400
        cuts.add(end - len(kept))
    assert len(cuts) <= 3  # the cut moves only now and then: consecutive prompts share their start


def test_the_memo_is_not_fooled_by_an_edit_before_the_end(service: CompletionService) -> None:
    tokenizer = service.backend.tokenizer
    memo = PrefixCutMemo()
    fit_prefix(SOURCE[:12000], 400, tokenizer, memo)
    edited = SOURCE[:11000] + "x" * 900 + SOURCE[11000:12000]  # not an extension of what the memo saw
    assert tokenizer.count_tokens(fit_prefix(edited, 400, tokenizer, memo)) <= 400
    memo.clear()


def test_the_whole_prompt_stays_within_budget_with_context(service: CompletionService) -> None:
    tokenizer = service.backend.tokenizer
    snippets = tuple(Snippet(f"lib/m{i}.py", SOURCE[i * 500 : i * 500 + 300]) for i in range(12))
    for budget in (64, 256, 1024):
        assembled = assemble(
            service.profile,
            PromptInput(SOURCE[:9000], SOURCE[9000:], "python", "textwrap.py", snippets),
            tokenizer,
            budget_tokens=budget,
            suffix_share=0.25,
            heal=True,
            memo=PrefixCutMemo(),
        )
        text = "".join(part for part in assembled.prompt.parts if isinstance(part, str))
        header = "# Path: textwrap.py\n"
        context = text[: text.index(header) + len(header)]
        assert tokenizer.count_tokens(context) <= CONTEXT_TOKENS  # context has its own budget
        assert tokenizer.count_tokens(text[len(context) :]) <= budget  # the code keeps all of its own
