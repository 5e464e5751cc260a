"""Context in the repository format of families trained on it (Qwen2.5-Coder), comments for the others."""

from __future__ import annotations

from keystroke.domain.engines.approx_tokenizer import ApproxTokenizer
from keystroke.domain.engines.base import Special
from keystroke.domain.prompt.assembly import PromptInput, Snippet, assemble, render_repository
from keystroke.domain.prompt.profiles import detect_profile

QWEN = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>"}
MARKERS = {"REPO": "<|repo_name|>", "FILE": "<|file_sep|>"}
SNIPPETS = (
    Snippet("pkg/models.py", "class User:\n    name: str\n"),
    Snippet("pkg/models.py", "class Team:\n    users: list[User]\n"),
    Snippet("pkg/db.py", "def connect(url):\n    ...\n"),
)


def _source(**more: object) -> PromptInput:
    return PromptInput("def f(u: User):\n    return u.", "\n", "python", "pkg/app.py", SNIPPETS, **more)  # type: ignore[arg-type]


def test_a_qwen_prompt_lays_context_out_as_files_of_a_repository_before_the_fim_prompt() -> None:
    profile = detect_profile(QWEN)
    assert profile.repository == MARKERS
    prompt = assemble(
        profile, _source(repository="acme"), ApproxTokenizer(), budget_tokens=512, suffix_share=0.25, heal=False
    ).prompt
    assert prompt.render() == (
        "<|repo_name|>acme\n"
        "<|file_sep|>pkg/models.py\nclass User:\n    name: str\nclass Team:\n    users: list[User]\n"
        "<|file_sep|>pkg/db.py\ndef connect(url):\n    ...\n"
        "<|file_sep|>pkg/app.py\n"
        "<|fim_prefix|><|fim_suffix|>\n<|fim_middle|>def f(u: User):\n    return u."  # SPM, Qwen's default order
    )
    markers = [part.text for part in prompt.parts if isinstance(part, Special)]
    assert markers[:4] == ["<|repo_name|>", "<|file_sep|>", "<|file_sep|>", "<|file_sep|>"]


def test_without_a_repository_name_the_files_come_first() -> None:
    parts = render_repository(_source(), 512, ApproxTokenizer(), MARKERS)
    assert parts[0] == Special("<|file_sep|>")
    assert "".join(p.text if isinstance(p, Special) else p for p in parts).endswith("<|file_sep|>pkg/app.py\n")


def test_comments_layout_and_families_without_markers_get_commented_blocks() -> None:
    qwen = detect_profile(QWEN)
    commented = assemble(
        qwen, _source(), ApproxTokenizer(), budget_tokens=512, suffix_share=0.25, heal=False, layout="comments"
    ).prompt.render()
    assert commented.startswith("<|fim_prefix|><|fim_suffix|>\n<|fim_middle|># Path: pkg/models.py\n# class User:\n")
    assert "<|file_sep|>" not in commented
    starcoder = detect_profile({"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>"})
    assert starcoder.repository is None


def test_files_that_do_not_fit_end_the_context_and_no_context_means_no_markers() -> None:
    tokenizer = ApproxTokenizer()
    first_only = render_repository(_source(), 40, tokenizer, MARKERS)
    text = "".join(p.text if isinstance(p, Special) else p for p in first_only)
    assert "pkg/models.py" in text
    assert "pkg/db.py" not in text
    assert render_repository(_source(), 3, tokenizer, MARKERS) == ()
    assert render_repository(PromptInput("x", "", "python", "a.py"), 512, tokenizer, MARKERS) == ()
