"""The context service with the real model's tokenizer: budget, stability while typing, privacy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keystroke.config import Settings
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.prompt.assembly import CONTEXT_TOKENS, PromptInput, Snippet, assemble
from keystroke.services.completion import CompletionService
from keystroke.services.context import ContextService, allowed_snippets, exclusion_rules
from keystroke.services.types import CompletionRequest
from keystroke.services.workspace import Workspace
from keystroke.testing import ManualClock
from tests.conftest import make_settings, run
from tests.fixtures.workspace import FILES, SECRET

pytestmark = pytest.mark.model

CART = FILES["shop/cart.py"]
CURSOR = CART.index("        return with_tax(discounted)")


@pytest.fixture
def context(index: RepositoryIndex, service: CompletionService) -> Iterator[tuple[ContextService, ManualClock]]:
    clock = ManualClock()
    workspace = Workspace.over(index, service.backend.tokenizer, generous(), clock=clock)
    yield workspace.context, clock
    workspace.close()


def generous() -> Settings:
    """Settings whose source deadlines a loaded CI machine meets (the live 10-12 ms ones are not what these
    tests check: test_engine covers a source past its deadline)."""
    return make_settings(
        **{f"context.{s}_ms": 2000 for s in ("definitions", "recent_edits", "neighbours", "retrieval")}
    )


def ask(context: ContextService, offset: int) -> tuple[Snippet, ...]:
    at = CURSOR + offset
    outcome = context.snippets_for(
        filepath="shop/cart.py", prefix=CART[:at], suffix=CART[at:], language="python", session_id="s"
    )
    return outcome.snippets


def prompt_text(service: CompletionService, snippets: tuple[Snippet, ...], at: int, budget: int = 1024) -> str:
    assembled = assemble(
        service.profile,
        PromptInput(CART[:at], CART[at:], "python", "shop/cart.py", snippets),
        service.backend.tokenizer,
        budget_tokens=budget,
        suffix_share=0.25,
        heal=True,
    )
    return "".join(part for part in assembled.prompt.parts if isinstance(part, str))


def test_snippets_fill_the_budget_and_never_more(
    context: tuple[ContextService, ManualClock], service: CompletionService
) -> None:
    ctx, _ = context
    snippets = ask(ctx, 0)
    assert snippets
    budget = CONTEXT_TOKENS
    text = prompt_text(service, snippets, CURSOR)
    context_part = text[: text.index("# Path: shop/cart.py\n") + len("# Path: shop/cart.py\n")]
    assert service.backend.tokenizer.count_tokens(context_part) <= budget
    for small in (64, 128, 300):
        assert service.backend.tokenizer.count_tokens(prompt_text(service, snippets, CURSOR, small)) <= small + budget


def test_typing_fast_keeps_the_snippets_and_the_prompt_prefix(
    context: tuple[ContextService, ManualClock], service: CompletionService
) -> None:
    ctx, clock = context
    first = ask(ctx, 0)
    previous = prompt_text(service, first, CURSOR)
    for step in range(1, 8):
        clock.time += 0.08  # 80 ms between keystrokes: light
        assert ask(ctx, step) == first
        current = prompt_text(service, first, CURSOR + step)
        shared = len(previous) - 24  # all but the last line's tail
        assert current[:shared] == previous[:shared]
        previous = current


def test_a_pause_refreshes_and_the_order_is_deterministic(context: tuple[ContextService, ManualClock]) -> None:
    ctx, clock = context
    first = ask(ctx, 0)
    clock.time += 0.3
    assert ask(ctx, 0) == first  # same code, same search: same snippets in the same order


def test_no_secret_reaches_the_prompt(context: tuple[ContextService, ManualClock], service: CompletionService) -> None:
    ctx, _ = context
    for offset in (0, -40, -200):
        assert SECRET not in prompt_text(service, ask(ctx, offset), CURSOR + offset)


def test_editor_snippets_from_excluded_paths_are_dropped() -> None:
    rules = exclusion_rules(make_settings())
    given = (Snippet("/home/me/app/.env", SECRET), Snippet("src/util.py", "def f(): pass"), Snippet("id_rsa", SECRET))
    assert allowed_snippets(given, rules) == (Snippet("src/util.py", "def f(): pass"),)


def test_a_file_outside_the_workspace_gets_no_collection(context: tuple[ContextService, ManualClock]) -> None:
    ctx, _ = context
    assert ctx.relative("/somewhere/else.py") is None
    assert ctx.relative("../escape.py") is None
    assert ctx.relative(str(ctx.engine.index.root / "shop" / "cart.py")) == "shop/cart.py"


def test_the_completion_service_reports_the_context_it_used(index: RepositoryIndex, service: CompletionService) -> None:
    # generous deadlines: on a loaded CI machine the live 10-12 ms ones can all pass before a source answers
    settings = make_settings(
        **{f"context.{s}_ms": 2000 for s in ("definitions", "recent_edits", "neighbours", "retrieval")}
    )
    workspace = Workspace.over(index, service.backend.tokenizer, settings)
    with_context = CompletionService(service.backend, service.profile, settings, workspace=workspace)
    request = CompletionRequest(CART[:CURSOR], CART[CURSOR:], "python", "shop/cart.py", mode="inline")
    result = run(with_context.complete(request))
    workspace.close()
    assert result.context.depth == "full"
    assert result.context.snippets > 0
    assert [s.source for s in result.context.sources] == ["definitions", "recent_edits", "neighbours", "retrieval"]
    given = run(
        with_context.complete(
            CompletionRequest(CART[:CURSOR], "", "python", "shop/cart.py", snippets=(Snippet("x.py", "def x(): pass"),))
        )
    )
    assert given.context.depth is None
    assert given.context.snippets == 1
