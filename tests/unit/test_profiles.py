import pytest

from keystroke.domain.prompt.profiles import detect_profile, profile_names
from keystroke.errors import ConfigError

QWEN = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>", "<|endoftext|>"}
CODEGEMMA = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>", "<eos>"}
STARCODER = {"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<|endoftext|>", "<file_sep>"}
SANTACODER = {"<fim-prefix>", "<fim-suffix>", "<fim-middle>", "<|endoftext|>"}
DEEPSEEK = {"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<｜end▁of▁sentence｜>"}
CODELLAMA = {"▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>", "<s>", "</s>"}
CODESTRAL = {"[PREFIX]", "[SUFFIX]", "[MIDDLE]", "</s>"}
SMOLLM = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<filename>", "<file_sep>"}


@pytest.mark.parametrize(
    ("tokens", "label"),
    [
        (QWEN, "qwen2.5-coder:spm"),
        (CODEGEMMA, "codegemma:spm"),
        (STARCODER, "starcoder:spm"),
        (SANTACODER, "santacoder:spm"),
        (DEEPSEEK, "deepseek-coder:psm"),
        (CODELLAMA, "codellama:spm"),
        (CODESTRAL, "codestral:native"),
        (SMOLLM, "l2r"),
        (set(), "l2r"),
    ],
)
def test_profile_is_detected_from_the_vocabulary(tokens: set[str], label: str) -> None:
    assert detect_profile(tokens).label == label


def test_detected_profile_carries_the_vocabulary_spelling() -> None:
    profile = detect_profile(CODELLAMA)
    assert profile.markers == {"PRE": "▁<PRE>", "SUF": "▁<SUF>", "MID": "▁<MID>"}
    assert profile.stop_tokens == ("▁<EOT>",)


def test_override_picks_an_order_and_rejects_what_the_vocabulary_cannot_do() -> None:
    assert detect_profile(STARCODER, "starcoder:psm").label == "starcoder:psm"
    assert detect_profile(STARCODER, "l2r").label == "l2r"
    with pytest.raises(ConfigError, match="lacks"):
        detect_profile(SMOLLM, "qwen2.5-coder")
    with pytest.raises(ConfigError, match="unknown profile"):
        detect_profile(QWEN, "gpt-9")
    with pytest.raises(ConfigError, match="unknown profile"):
        detect_profile(QWEN, "qwen2.5-coder:native")


def test_every_listed_profile_name_is_accepted_by_its_family() -> None:
    assert "l2r" in profile_names()
    assert all(":" in name for name in profile_names() if name != "l2r")
