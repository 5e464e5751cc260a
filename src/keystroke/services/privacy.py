"""Redaction applied to a whole completion request, and the answer revealed for the one who asked.

`preparation.py` calls it, once per request on each side of a process boundary: the editor before a request
leaves the machine, the gateway again (a second line, for an editor that did not redact, or redacted with
fewer patterns) before the prompt reaches the engine. One vault per request covers the prefix, the suffix and
every snippet, so one secret has one placeholder everywhere.
"""

from __future__ import annotations

from dataclasses import replace

from keystroke.config import PrivacySettings
from keystroke.domain.privacy.detectors import SecretScanner
from keystroke.domain.privacy.redaction import Vault, redact, reveal
from keystroke.domain.prompt.assembly import Snippet
from keystroke.services.types import CompletionRequest


class Redactor:
    """The configured scanner (none when `privacy.redact` is off). Thread-safe. Counts its passes over
    requests and its reveals (`passes`, `reveals`: how often each request's texts are scanned)."""

    def __init__(self, settings: PrivacySettings) -> None:
        self.scanner = SecretScanner(settings.patterns) if settings.redact else None
        self.passes = 0
        self.reveals = 0

    def request(self, request: CompletionRequest, namespace: str) -> tuple[CompletionRequest, Vault]:
        """The request with every secret replaced by its placeholder, and the vault to reveal the answer."""
        texts = [request.prefix, request.suffix, *(s.body for s in request.snippets)]
        vault = Vault.after(*texts)
        self.passes += 1
        if self.scanner is None:
            return request, vault
        prefix, suffix = self.texts([request.prefix, request.suffix], vault, namespace)
        snippets = self.snippets(request.snippets, vault, namespace)
        return replace(request, prefix=prefix, suffix=suffix, snippets=snippets), vault

    def snippets(self, snippets: tuple[Snippet, ...], vault: Vault, namespace: str) -> tuple[Snippet, ...]:
        """Snippets gathered later for the same request (the gateway's own workspace), in the same vault."""
        bodies = self.texts([s.body for s in snippets], vault, namespace)
        return tuple(Snippet(s.filepath, body) for s, body in zip(snippets, bodies, strict=True))

    def texts(self, texts: list[str], vault: Vault, namespace: str) -> list[str]:
        if self.scanner is None:
            return texts
        return [redact(text, self.scanner, vault, namespace) for text in texts]

    def reveal(self, completion: str, vault: Vault) -> str:
        """Invented credentials masked, this request's placeholders filled, any other placeholder left as is."""
        self.reveals += 1
        if self.scanner is None or not completion:
            return completion
        return reveal(completion, self.scanner, vault)
