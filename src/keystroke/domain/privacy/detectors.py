"""Secret detection: where in a text the credentials are, by format.

Three kinds of evidence, all found in one pass per pattern over the whole text (a pattern with a literal
prefix is searched at C speed, so a 2,000-line file costs about a millisecond):

- **Known token formats.** The format knowledge comes from the detect-secrets library (Yelp, maintained):
  the regexes of its AWS, GitHub, GitLab, SendGrid, Square, PyPI, Azure storage, OpenAI, Twilio and npm
  detectors and the key-block names of its private-key detector are read from its plugin classes, so a
  format it learns arrives with an upgrade. Formats it lacks or matches too loosely for a completion prompt
  are added here (GitHub fine-grained tokens, Stripe, Slack, Google API keys, Anthropic/OpenAI project keys,
  Hugging Face, whole JWTs, whole private-key blocks, passwords in URLs).
- **Assignments to secret names** (`password`, `secret`, `token`, `api_key`, ...): the assigned value,
  quoted or not, in code and in configuration files (`.env`, YAML, INI, connection strings).
- **High-entropy string literals in assignments**: a random-looking quoted value of 20+ characters.

User patterns (`privacy.patterns`) are regexes; the whole match is the secret, or group 1 when there is one.
`scan` returns non-overlapping findings in text order; the earlier and then longer finding wins an overlap.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from keystroke.domain.context.cache import LruCache
from keystroke.errors import ConfigError

MIN_ENTROPY_LENGTH = 20
CHUNK_ENTRIES = 4096
CHUNK_MIN_LINES = 12
CHUNK_MAX_LINES = 200
CHUNK_ODDS = 8  # a line ends a chunk with this inverse probability (past the minimum): ~20 lines a chunk


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class _Format:
    kind: str
    pattern: re.Pattern[str]
    group: int = 0  # 0: the whole match is the secret; else this group
    lead: str = ""  # characters that may start the secret one before the match (a literal prefix searches fast)


def _library_formats() -> list[_Format]:
    """The token formats detect-secrets knows, from its plugin classes (the fast, case-sensitive ones)."""
    aws_key_id = AWSKeyDetector().denylist[0]  # the second one (a key near 'aws') is covered by assignments
    sources: list[tuple[str, Sequence[re.Pattern[str]]]] = [
        ("aws-access-key-id", [aws_key_id]),
        ("github-token", GitHubTokenDetector().denylist),
        ("gitlab-token", GitLabTokenDetector().denylist),
        ("sendgrid-key", SendGridDetector().denylist),
        ("square-oauth", SquareOAuthDetector().denylist),
        ("pypi-token", PypiTokenDetector().denylist),
        ("azure-storage-key", AzureStorageKeyDetector().denylist),
        ("openai-key", OpenAIDetector().denylist),
        ("twilio-key", TwilioKeyDetector().denylist),
    ]
    formats = [_Format(kind, pattern) for kind, patterns in sources for pattern in patterns]
    npm = NpmDetector().denylist[0]  # //registry/:_authToken=VALUE: the value is group 1
    formats.append(_Format("npm-token", re.compile(npm.pattern.removesuffix(".*"), npm.flags), 1))
    return formats


def _private_key_block() -> re.Pattern[str]:
    """A whole key block, from the BEGIN line of any key type detect-secrets names to its END line (or to the
    end of the text, when the cursor is still inside the block)."""
    names = [p.pattern.removeprefix("BEGIN ") for p in PrivateKeyDetector().denylist if p.pattern.startswith("BEGIN")]
    alternatives = "|".join(re.escape(name) for name in names)
    body = r"(?=[ \t]*\r?\n(?:[\w-]+:[^\n]*\n)*\s*[A-Za-z0-9+/=]{40})"  # key material follows, not prose
    return re.compile(rf"-----BEGIN (?:{alternatives})-----{body}.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL)


_KEY_BLOCK = _Format("private-key", _private_key_block())  # the one format that spans lines
_OWN_FORMATS = [
    _Format("stripe-key", re.compile(r"k_(?:live|test)_[0-9A-Za-z]{16,99}"), lead="rsp"),
    # fine-grained personal access tokens; detect-secrets knows only the classic ghp_/gho_/... ones
    _Format("github-fine-grained-token", re.compile(r"github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}")),
    _Format("slack-token", re.compile(r"xox[abposr]-[0-9A-Za-z-]{10,250}")),
    _Format("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}")),
    _Format("google-api-key", re.compile(r"AIza[0-9A-Za-z_-]{35}")),
    _Format("anthropic-key", re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}")),
    _Format("openai-key", re.compile(r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}")),
    _Format("huggingface-token", re.compile(r"hf_[A-Za-z]{30,40}")),
    _Format("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    # scheme://user:PASSWORD@host (databases, brokers, basic auth): the password only, the rest is context
    _Format("url-password", re.compile(r"://[^\s:/?#\[\]@'\"`]{1,128}:([^\s/?#\[\]@'\"`]{1,256})@"), 1),
]

_SECRET_NAMES: tuple[str, ...] = ("passw", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key")
_SECRET_NAMES += ("access_key", "accesskey", "private_key", "privatekey", "credential", "auth_key", "client_key")
_STRONG_NAMES = ("passw", "passwd", "pwd", "secret", "credential")  # any plausible value is a secret
# after a secret name: the rest of the name, an optional closing quote, the operator, then the value
_ASSIGNED = re.compile(
    r"""[\w.-]*["'\]]?[ \t]*(?::=|=>|=|:)[ \t]*"""
    r"""(?:[bBrRuU]{0,2}(["'`])([^"'`\n]{1,512}?)\1|([^\s"'`;,&<>(){}\[\]]{1,512}))"""
)
_QUOTED_ASSIGNMENT = re.compile(r"""(?::=|=>|=|:)[ \t]*[bBrRuU]{0,2}(["'`])([A-Za-z0-9+/=_.~-]{20,512})\1""")
_WORDY = re.compile(r"[a-z]{8}|[A-Z]{8}")
_CODE_WORD = re.compile(r"[A-Za-z_]\w*(?:\.\w+)+|[A-Za-z]+(?:_\w+)+")
_TEMPLATED = re.compile(r"^(?:\$\{?|\{\{?|%[(s]|<[A-Z_]+>$|\*+$|x+$)")


class SecretScanner:
    """Finds secrets in a text.

    Line-bounded formats are scanned per chunk of lines (content-defined: a chunk ends after a line whose hash
    says so, so an edit changes only its own chunk) and each chunk's findings are cached under the caller's
    namespace: a keystroke in a 2,000-line file rescans a few dozen lines. The cache holds `CHUNK_ENTRIES`
    chunks (least recently used out), never across namespaces (the gateway passes the tenant, model and
    tokenizer); `clear()` empties it. Thread-safe.
    """

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        self._formats = _library_formats() + _OWN_FORMATS + [_user_format(p) for p in extra_patterns]
        self._chunks: LruCache[tuple[str, str], tuple[Finding, ...]] = LruCache("secret scan chunks", CHUNK_ENTRIES)

    def scan(self, text: str, namespace: str | None = None) -> list[Finding]:
        """Every secret in `text`, in order, without overlaps; with a `namespace`, unchanged chunks of lines
        are answered from the cache."""
        found = self._matches(_KEY_BLOCK, text)
        if namespace is None:
            found += self._scan_lines(text)
        else:
            for start, end in _chunks(text):
                found += [
                    Finding(f.start + start, f.end + start, f.kind) for f in self._chunk(namespace, text[start:end])
                ]
        return _without_overlaps(found)

    def clear(self) -> None:
        self._chunks.clear()

    def _chunk(self, namespace: str, chunk: str) -> tuple[Finding, ...]:
        return self._chunks.get_or_compute((namespace, chunk), lambda: tuple(self._scan_lines(chunk)))

    def _scan_lines(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        for fmt in self._formats:
            found += self._matches(fmt, text)
        return found + _assignments(text) + _entropic_literals(text)

    @staticmethod
    def _matches(fmt: _Format, text: str) -> list[Finding]:
        found = []
        for match in fmt.pattern.finditer(text):
            start, end = match.span(fmt.group)
            if fmt.lead and start > 0 and text[start - 1] in fmt.lead:
                start -= 1
            elif fmt.lead:
                continue
            if end > start:
                found.append(Finding(start, end, fmt.kind))
        return found


def _chunks(text: str) -> list[tuple[int, int]]:
    """Content-defined chunks of whole lines: (start, end) offsets covering `text`."""
    spans = []
    start = position = lines = 0
    for line in text.split("\n"):
        position += len(line) + 1
        lines += 1
        if lines >= CHUNK_MAX_LINES or (lines >= CHUNK_MIN_LINES and hash(line) % CHUNK_ODDS == 0):
            spans.append((start, min(position, len(text))))
            start, lines = position, 0
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _user_format(pattern: str) -> _Format:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"privacy.patterns: {pattern!r} is not a valid regular expression: {exc}") from exc
    return _Format("custom", compiled, 1 if compiled.groups else 0)


def _assignments(text: str) -> list[Finding]:
    """Values assigned to secret-looking names, found by searching the lowered text for each name."""
    lowered = text.lower()
    found: list[Finding] = []
    for name in _SECRET_NAMES:
        at = lowered.find(name)
        while at != -1:
            match = _ASSIGNED.match(text, at + len(name))
            if match is not None:
                group = 2 if match.group(2) is not None else 3
                value = match.group(group)
                if _plausible_value(value, strong=name in _STRONG_NAMES, quoted=group == 2):
                    found.append(Finding(match.start(group), match.end(group), "secret-assignment"))
            at = lowered.find(name, at + len(name))
    return found


def _plausible_value(value: str, *, strong: bool, quoted: bool) -> bool:
    """Whether an assigned value looks like a credential rather than code, a reference or a template."""
    if len(value) < 4 or " " in value or _TEMPLATED.match(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    if not quoted and (not has_digit or _CODE_WORD.fullmatch(value) or value.replace(".", "").isdigit()):
        return False  # an unquoted word is code (`password = PASSWORD`, `token = self.base64_token`)
    if strong:
        return True
    return len(value) >= 12 and has_digit


def _entropic_literals(text: str) -> list[Finding]:
    found = []
    for match in _QUOTED_ASSIGNMENT.finditer(text):
        value = match.group(2)
        if looks_random(value):
            found.append(Finding(match.start(2), match.end(2), "high-entropy"))
    return found


def looks_random(value: str) -> bool:
    """A long string with letters and digits, no ascending run (an alphabet constant) and near-maximal entropy
    for its length (an identifier or a sentence is far below)."""
    if len(value) < MIN_ENTROPY_LENGTH or not any(c.isdigit() for c in value) or not any(c.isalpha() for c in value):
        return False
    if _has_run(value) or sum(value.count(c) for c in "-._/") >= 3 or _WORDY.search(value):
        return False  # an alphabet constant, a structured name (`cpython-311-x86_64-linux-gnu`), words
    return shannon_entropy(value) >= 0.82 * math.log2(min(len(value), 64))


def shannon_entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _has_run(value: str, length: int = 4) -> bool:
    run = 1
    for previous, current in itertools.pairwise(value):
        run = run + 1 if ord(current) == ord(previous) + 1 else 1
        if run >= length:
            return True
    return False


def _without_overlaps(findings: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if kept and finding.start < kept[-1].end:
            if finding.end > kept[-1].end:
                kept[-1] = Finding(kept[-1].start, finding.end, kept[-1].kind)
            continue
        kept.append(finding)
    return kept
