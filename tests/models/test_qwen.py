"""The FIM paths on real FIM weights: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) from the catalog, through the same
CompletionService the gateway uses. Skipped, with the command that installs it, where the model is absent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keystroke.domain.engines.catalog import entry_named
from keystroke.domain.engines.embedded import EmbeddedBackend
from keystroke.domain.engines.model_source import catalog_path, resolve_model
from keystroke.domain.prompt.assembly import Snippet
from keystroke.domain.prompt.boundary import split_boundary
from keystroke.domain.prompt.profiles import detect_profile
from keystroke.errors import ModelError
from keystroke.evaluation.cases import format_cases, load_cases, run_cases
from keystroke.evaluation.humaneval import NO_DEADLINES
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest
from tests.conftest import make_settings, run

NAME = "qwen2.5-coder-0.5b"
LOOP_PREFIX = (
    "import os\n\n\ndef python_files(top):\n    result = []\n    for dirpath, dirnames, filenames in os.walk(top):\n"
    '        for name in filenames:\n            if name.endswith(".py"):\n                '
)
LOOP_SUFFIX = "\n    return result\n"

pytestmark = [pytest.mark.model, pytest.mark.qwen]


def qwen_service(profile: str | None = None, **overrides: object) -> CompletionService:
    try:
        catalog_path(entry_named(NAME))
    except ModelError as exc:
        pytest.skip(f"{NAME} is not installed here: {exc}")
    # serving's deadlines lifted: on a busy machine a dropped request would say nothing about the FIM path
    settings = make_settings(**{"engine.model": NAME, **NO_DEADLINES, **overrides})
    backend = EmbeddedBackend(resolve_model(NAME), n_ctx=2048, n_threads=2, prefill_chunk=64)
    return CompletionService(backend, detect_profile(backend.info.special_tokens, profile), settings)


@pytest.fixture(scope="module")
def qwen() -> Iterator[CompletionService]:
    service = qwen_service()
    yield service
    run(service.backend.aclose())


def complete(service: CompletionService, prefix: str, suffix: str, **more: object) -> str:
    request = CompletionRequest(prefix=prefix, suffix=suffix, language="python", trigger="automatic", **more)  # type: ignore[arg-type]
    result = run(service.complete(request))
    assert result.abstain_reason is None, result.abstain_reason
    return result.text


def test_the_catalog_model_gets_the_qwen_profile_with_its_stop_and_repository_markers(qwen: CompletionService) -> None:
    assert qwen.profile.label == "qwen2.5-coder:spm"
    assert {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"} <= set(qwen.profile.stop_tokens)
    assert qwen.profile.repository == {"REPO": "<|repo_name|>", "FILE": "<|file_sep|>"}


def test_the_loop_body_from_the_issue_is_completed_as_a_code_model_does(qwen: CompletionService) -> None:
    text = complete(qwen, LOOP_PREFIX, LOOP_SUFFIX, mode="inline")
    assert text.startswith("result.append("), text
    assert "<|" not in text


def test_the_regression_cases_held_on_qwen_pass(qwen: CompletionService) -> None:
    cases = [case for case in load_cases() if case.held_on(NAME)]
    assert {"python/loop_body.py.case", "python/fill_the_middle.py.case"} <= {case.name for case in cases}
    results = run(run_cases(qwen, cases, NAME))
    assert not [r for r in results if r.regressed], format_cases(results)


@pytest.mark.parametrize("profile", ["qwen2.5-coder:psm", "qwen2.5-coder:spm"])
def test_both_orders_complete_the_loop_body(profile: str) -> None:
    service = qwen_service(profile)
    try:
        assert complete(service, LOOP_PREFIX, LOOP_SUFFIX, mode="inline").startswith("result.append(")
    finally:
        run(service.backend.aclose())


def test_an_explicit_request_ranks_whole_middles_and_keeps_the_code_model_answer(qwen: CompletionService) -> None:
    request = CompletionRequest(LOOP_PREFIX, LOOP_SUFFIX, "python", mode="inline", trigger="invoked")
    result = run(qwen.complete(request))
    assert result.abstain_reason is None, result.abstain_reason
    assert result.usage.candidates > 1  # alternatives were decoded and scored as FIM middles
    assert result.text.startswith("result.append("), result.text
    assert "<|" not in result.text


def test_a_word_cut_at_the_cursor_is_finished_not_repeated(qwen: CompletionService) -> None:
    text = complete(qwen, LOOP_PREFIX + "result.app", LOOP_SUFFIX, mode="inline")
    assert text.startswith("end("), text


def test_a_block_ends_where_the_suffix_resumes_without_repeating_it(qwen: CompletionService) -> None:
    prefix = "def mean(values):\n    if not values:\n        return 0.0\n"
    suffix = "    return total / len(values)\n\n\nprint(mean([1, 2, 3]))\n"
    text = complete(qwen, prefix, suffix, mode="multiline")
    assert "total" in text, text
    assert "return total / len(values)" not in text
    assert "print(mean" not in text


def test_context_from_another_file_in_the_repository_layout_is_used(qwen: CompletionService) -> None:
    pricing = (
        "class Pricing:\n    @staticmethod\n    def gross_from_net_rounded(net: float) -> float:\n"
        "        return round(net * 1.2, 2)\n"
    )
    prefix = (
        "from shop.pricing import Pricing\n\n\ndef invoice_total(lines):\n    net = sum(lines)\n    return Pricing."
    )
    alone = complete(qwen, prefix, "\n", mode="inline", filepath="shop/invoice.py")
    helped = complete(
        qwen, prefix, "\n", mode="inline", filepath="shop/invoice.py", snippets=(Snippet("shop/pricing.py", pricing),)
    )
    assert not alone.startswith("gross_from_net_rounded"), alone
    assert helped.startswith("gross_from_net_rounded(net"), helped


def test_the_boundary_is_the_last_token_of_qwens_own_tokenizer(qwen: CompletionService) -> None:
    tokenizer = qwen.backend.tokenizer
    assert split_boundary('    x = 1\n    """\n\n', tokenizer) == ("    x = 1\n   ", ' """\n\n')
    assert split_boundary("    for x in y:\n", tokenizer) == ("    for x in y", ":\n")


def test_after_a_docstring_the_first_line_of_code_comes_not_blank_lines(qwen: CompletionService) -> None:
    # Taken back only to the newline after the docstring (a token Qwen never saw alone there), the model
    # preferred a token with more newlines and then ended the middle: an abstention for blank lines.
    prefix = (
        "from typing import List\n\n\ndef total_length(words: List[str]) -> int:\n"
        '    """ Total number of characters in the words.\n    >>> total_length([\'ab\', \'c\'])\n    3\n    """\n\n'
    )
    text = complete(qwen, prefix, "    return result\n", mode="inline")
    assert text.startswith("    "), text
    assert text.strip(), text


@pytest.mark.parametrize(("setting", "heals"), [("on", True), ("off", False), ("l2r", False)])
def test_token_healing_follows_its_setting_for_a_fim_model(setting: str, heals: bool) -> None:
    service = qwen_service(**{"prompt.token_healing": setting})
    try:
        request = CompletionRequest(prefix=LOOP_PREFIX + "result.app", suffix=LOOP_SUFFIX, trigger="automatic")
        result = run(service.complete(request))
        assert result.abstain_reason is None
        pieces = run(service.backend.call(lambda engine: [engine.vocabulary.pieces[i] for i in engine.last_prompt]))
        prompt = b"".join(pieces).decode("utf-8", "replace")
        assert ("result.app" in prompt) is not heals, prompt[-80:]
    finally:
        run(service.backend.aclose())
