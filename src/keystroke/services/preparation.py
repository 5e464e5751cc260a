"""Preparation: the one place a request becomes what the engine may see.

A `Preparation` turns an editor's or a client's `CompletionRequest` into a `PreparedRequest`, in this order:
the file's exclusion (an excluded file is answered without the engine, nothing else is done), the given
snippets minus excluded paths, the workspace's context when none were given and the caller may have it, and
redaction of the prefix, the suffix and every snippet in one vault (one secret, one placeholder everywhere).
The prepared request carries that vault, so whoever shows the answer reveals it once, with `reveal`.

Both sides of the wire use it. The language server prepares before a request leaves the editor; with the
engine in the same process (`keystroke lsp --embedded`) the completion service takes that prepared request as
it is, so nothing is checked, redacted or revealed twice. A request that crossed a process boundary (the
gateway's routes) is prepared again on the gateway: the second line, for an editor that did not redact or
redacted with fewer patterns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from keystroke.config import Settings
from keystroke.domain.context.typing_rate import Depth
from keystroke.domain.privacy.exclusion import ExclusionRules
from keystroke.domain.privacy.redaction import Vault
from keystroke.services.context import ContextOutcome, ContextService, allowed_snippets, exclusion_rules
from keystroke.services.privacy import Redactor
from keystroke.services.types import CompletionRequest


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready for prompt assembly: secrets as placeholders, context attached (`request.snippets`)."""

    request: CompletionRequest
    vault: Vault  # this request's placeholders
    redactor: Redactor  # reveals answers in `vault` (and masks credentials the model invented)
    namespace: str  # the tenant's cache namespace the redaction used
    # how the snippets were found (the workspace's depth and sources, when it was searched)
    context: ContextOutcome = field(default_factory=lambda: ContextOutcome(()))
    excluded: bool = False  # the file is kept out of every prompt: answered without the engine

    @property
    def redactions(self) -> int:
        """Secrets replaced by placeholders."""
        return len(self.vault)

    def reveal(self, text: str) -> str:
        """`text` as the user may see it: this request's placeholders filled, invented credentials masked."""
        return self.redactor.reveal(text, self.vault)


class Preparation:
    """Exclusion rules, the redactor and, optionally, a workspace's context service. Thread-safe as its parts
    are; `context` may be attached later (the language server indexes after it starts)."""

    def __init__(
        self,
        settings: Settings,
        context: ContextService | None = None,
        *,
        policy_exclude: Sequence[str] = (),
        policy_patterns: Sequence[str] = (),
    ) -> None:
        """`policy_*`: a gateway's organisation policy, added to this side's own settings (it can only add)."""
        privacy = settings.privacy
        if policy_patterns:
            privacy = privacy.model_copy(update={"patterns": (*privacy.patterns, *policy_patterns)})
        self.rules: ExclusionRules = exclusion_rules(settings, policy_exclude)
        self.redactor = Redactor(privacy)
        self.context = context

    def excluded(self, filepath: str | None) -> bool:
        """Whether the file is kept out of every prompt (default rules, configuration, organisation policy)."""
        return bool(filepath) and self.rules.excludes_named(str(filepath))

    async def prepare(
        self,
        request: CompletionRequest,
        namespace: str,
        *,
        gather: bool,
        excluded: bool | None = None,
        depth: Depth | None = None,
    ) -> PreparedRequest:
        """The request as the engine may see it. `gather`: collect the workspace's context when the request
        brings no snippets of its own (the caller decides who may: the workspace's tenant, the editor);
        `excluded`: the caller's decision on the file, when it made one (else the rules decide by name);
        `depth`: how deep to search, when the caller knows the user's pace."""
        refused = self.excluded(request.filepath) if excluded is None else excluded
        if refused:
            return PreparedRequest(request, Vault(), self.redactor, namespace, excluded=True)
        given = allowed_snippets(request.snippets, self.rules)
        context = ContextOutcome(given)
        if not given and gather and self.context is not None:
            context = await asyncio.to_thread(
                self.context.snippets_for,
                filepath=request.filepath,
                prefix=request.prefix,
                suffix=request.suffix,
                language=request.language,
                session_id=request.session_id,
                depth=depth,
            )
        redacted, vault = self.redactor.request(replace(request, snippets=context.snippets), namespace)
        context = replace(context, snippets=redacted.snippets)
        return PreparedRequest(redacted, vault, self.redactor, namespace, context)
