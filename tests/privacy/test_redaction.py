"""Secret detection and placeholders: every format of the fake-secret corpus, stable names, the round trip."""

from __future__ import annotations

from collections import Counter

import pytest

from keystroke.benchmarks.secrets_corpus import FORMATS, corpus
from keystroke.domain.privacy.detectors import SecretScanner, looks_random
from keystroke.domain.privacy.redaction import Vault, redact, reveal
from keystroke.errors import ConfigError

SCANNER = SecretScanner()
PLANTED = corpus()


def test_the_corpus_has_at_least_50_secrets_in_at_least_10_formats() -> None:
    assert len(PLANTED) >= 50
    assert len(Counter(p.kind for p in PLANTED)) == len(FORMATS) >= 10


@pytest.mark.parametrize("planted", PLANTED, ids=lambda p: p.kind)
def test_every_planted_secret_is_redacted(planted: object) -> None:
    from keystroke.benchmarks.secrets_corpus import PlantedSecret

    assert isinstance(planted, PlantedSecret)
    vault = Vault()
    redacted = redact(planted.code, SCANNER, vault)
    assert planted.secret not in redacted
    assert "<SECRET_1>" in redacted
    assert reveal(redacted, SCANNER, vault) == planted.code  # the placeholder comes back as it was


# formats that name themselves (a prefix, a shape): found wherever they stand, not only assigned to `token = `
SELF_EVIDENT = {
    *("aws-access-key-id", "github-token", "github-fine-grained-token", "gitlab-token", "slack-token"),
    *("slack-webhook", "stripe-key", "openai-key", "google-api-key", "sendgrid-key", "jwt", "pypi-token"),
}


@pytest.mark.parametrize("planted", [p for p in PLANTED if p.kind in SELF_EVIDENT], ids=lambda p: p.kind)
def test_self_evident_token_formats_are_redacted_as_a_bare_argument(planted: object) -> None:
    from keystroke.benchmarks.secrets_corpus import PlantedSecret

    assert isinstance(planted, PlantedSecret)
    code = f'client = connect("{planted.secret}", retries=3)\n'
    redacted = redact(code, SCANNER, Vault())
    assert planted.secret not in redacted


def test_3_a_github_fine_grained_token_outside_an_assignment_is_redacted() -> None:
    token = (
        "github_pat_" + "A1b2C3d4E5f6G7h8I9j0K1" + "_" + "x9Y8w7V6u5T4s3R2q1P0o9N8m7L6k5J4i3H2g1F0e9D8c7B6a5Z4y3X2w1V0u"
    )
    for code in (f'gh = Github("{token}")\n', f"headers = {{'Authorization': 'token {token}'}}\n", f"# {token}\n"):
        redacted = redact(code, SCANNER, Vault())
        assert token not in redacted
        assert "<SECRET_1>" in redacted


def test_every_self_evident_format_is_in_the_corpus() -> None:
    assert set(FORMATS) >= SELF_EVIDENT


@pytest.mark.parametrize(
    "code",
    [
        "def add(a, b):\n    return a + b\n",
        "password = os.environ['DB_PASSWORD']\n",
        "token = next_token(stream)\n",
        "ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'\n",
        "SOABI = 'cpython-311-x86_64-linux-gnu'\n",
        "url = f'https://{host}:{port}/path'\n",
        "secret_key = settings.SECRET_KEY\n",
        "mime = 'application/x-pkcs12'\n",
    ],
)
def test_ordinary_code_is_left_alone(code: str) -> None:
    assert SCANNER.scan(code) == []


def test_one_secret_has_one_placeholder_across_prefix_suffix_and_snippets() -> None:
    key = "AKIA" + "Q" * 4 + "7" * 12
    vault = Vault()
    texts = [f"a = '{key}'\nb = ", f"\nc = '{key}'\nd = 'ghp_{'x' * 36}'", f"KEY = '{key}'"]
    redacted = [redact(text, SCANNER, vault) for text in texts]
    assert [r.count("<SECRET_1>") for r in redacted] == [1, 1, 1]
    assert "<SECRET_2>" in redacted[1]
    assert len(vault) == 2


def test_numbering_continues_after_placeholders_already_in_the_text() -> None:
    """The gateway's second pass must not reuse a name the editor's first pass gave out."""
    text = "a = '<SECRET_1>'\ntoken = 'ghp_" + "y" * 36 + "'"
    vault = Vault.after(text)
    redacted = redact(text, SCANNER, vault)
    assert "<SECRET_1>" in redacted
    assert "<SECRET_2>" in redacted
    assert reveal("<SECRET_1> <SECRET_2>", SCANNER, vault) == "<SECRET_1> ghp_" + "y" * 36


def test_an_unknown_placeholder_is_never_filled_and_an_invented_credential_is_masked() -> None:
    vault = Vault()
    redact("stripe.api_key = 'sk_live_" + "a1B2" * 6 + "'", SCANNER, vault)
    invented = "AKIA" + "Z9" * 8
    shown = reveal(f"x = <SECRET_7>; y = '{invented}'; z = <SECRET_1>", SCANNER, vault)
    assert "<SECRET_7>" in shown  # not ours: shown as it is
    assert invented not in shown
    assert "<SECRET_2>" in shown
    assert shown.endswith("sk_live_" + "a1B2" * 6)  # ours: filled back


def test_user_patterns_add_formats_and_a_bad_one_is_a_config_error() -> None:
    scanner = SecretScanner([r"ACME-[0-9]{6}", r"internal_id=(\w+)"])
    vault = Vault()
    redacted = redact("a = 'ACME-123456'\nq = 'internal_id=u77'", scanner, vault)
    assert "ACME-123456" not in redacted
    assert "u77" not in redacted
    assert "internal_id=" in redacted
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        SecretScanner(["(unclosed"])


def test_the_chunk_cache_answers_as_a_fresh_scan_and_is_per_namespace() -> None:
    scanner = SecretScanner()
    text = "\n".join(p.code for p in PLANTED) + "\n" + "x = 1\n" * 500
    fresh = scanner.scan(text)
    assert scanner.scan(text, "tenant-a") == fresh
    edited = text.replace("x = 1\n", "x = 2\n", 1)
    assert scanner.scan(edited, "tenant-a") == scanner.scan(edited)
    misses = scanner._chunks.misses
    scanner.scan(text, "tenant-b")  # identical text, another tenant: no entry shared
    assert scanner._chunks.misses > misses


def test_a_private_key_block_is_redacted_whole_even_while_it_is_being_typed() -> None:
    block = PLANTED[[p.kind for p in PLANTED].index("private-key")].secret
    half = block[: len(block) // 2]
    redacted = redact(f"KEY = '''\n{half}", SCANNER, Vault())
    assert redacted == "KEY = '''\n<SECRET_1>"


def test_randomness_check() -> None:
    assert looks_random("q8Fz0LmR2vXc9TbN4hYw")
    assert not looks_random("get_user_by_identifier")
    assert not looks_random("0123456789abcdefghij")
