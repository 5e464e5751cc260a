"""Redaction: secrets become stable placeholders before text leaves, and come back only where they came from.

Per request, a `Vault` maps each distinct secret to one placeholder (`<SECRET_1>`, `<SECRET_2>`, ...), the same
across the prefix, the suffix and every snippet, so the model sees a consistent name and prompts of
consecutive keystrokes stay identical where the code did. Numbering starts after the highest placeholder
already in the texts, so a second pass (the gateway after the editor) never reuses one.

On the way back, `reveal` first replaces any credential the model invented with a fresh placeholder that has
no value, then fills the placeholders this vault created. Any other placeholder is left as it is: it is never
filled from anywhere else. Pure functions over text; a vault lives for one request and is not thread-safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from keystroke.domain.privacy.detectors import Finding, SecretScanner

PLACEHOLDER = re.compile(r"<SECRET_(\d{1,9})>")


@dataclass
class Vault:
    """The secrets of one request and their placeholders."""

    first: int = 1
    values: dict[str, str] = field(default_factory=dict)  # placeholder -> secret
    _names: dict[str, str] = field(default_factory=dict)  # secret -> placeholder

    @classmethod
    def after(cls, *texts: str) -> Vault:
        """A vault numbering after every placeholder already present in `texts`."""
        highest = max((int(m.group(1)) for text in texts for m in PLACEHOLDER.finditer(text)), default=0)
        return cls(first=highest + 1)

    def name(self, secret: str) -> str:
        placeholder = self._names.get(secret)
        if placeholder is None:
            placeholder = self._fresh()
            self._names[secret] = placeholder
            self.values[placeholder] = secret
        return placeholder

    def anonymous(self) -> str:
        """A placeholder with no value behind it (for a credential the model made up)."""
        placeholder = self._fresh()
        self._names[f"\0anonymous{placeholder}"] = placeholder
        return placeholder

    def _fresh(self) -> str:
        return f"<SECRET_{self.first + len(self._names)}>"

    def __len__(self) -> int:
        return len(self.values)


def redact(text: str, scanner: SecretScanner, vault: Vault, namespace: str | None = None) -> str:
    """`text` with every secret the scanner finds replaced by its placeholder in `vault` (`namespace`: whose
    chunk cache the scanner may use)."""
    findings = [f for f in scanner.scan(text, namespace) if not PLACEHOLDER.fullmatch(text, f.start, f.end)]
    return _replace(text, findings, vault.name)  # a finding that is a placeholder is an earlier pass's


def _replace(text: str, findings: list[Finding], name: Callable[[str], str]) -> str:
    """`text` with each finding replaced by the placeholder `name` gives its secret."""
    if not findings:
        return text
    parts: list[str] = []
    done = 0
    for finding in findings:
        parts += [text[done : finding.start], name(text[finding.start : finding.end])]
        done = finding.end
    parts.append(text[done:])
    return "".join(parts)


def reveal(completion: str, scanner: SecretScanner, vault: Vault) -> str:
    """The completion as the user may see it: invented credentials masked, this vault's placeholders filled."""
    findings = [f for f in scanner.scan(completion) if not PLACEHOLDER.search(completion, f.start, f.end)]
    masked = _replace(completion, findings, lambda _: vault.anonymous())
    return PLACEHOLDER.sub(lambda m: vault.values.get(m.group(0), m.group(0)), masked)
