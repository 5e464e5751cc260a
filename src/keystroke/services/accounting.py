"""Keeping account of served requests: the audit log, the tenants' usage totals and the metrics listen here.

The completion service hands every request it ends (answered, abstained, excluded, cancelled or failed) to its
listeners as one `Served` record, once; none of them is interleaved with the serving itself. A listener is
any callable taking the record; listeners run on the event loop, in order, and must not block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from keystroke.domain.engines.base import GenerationStats
from keystroke.domain.privacy.audit import AuditLog, AuditRecord, RetainedCode, latency_bucket
from keystroke.domain.privacy.tenants import Tenant
from keystroke.services.metrics import Metrics
from keystroke.services.types import CompletionRequest, CompletionResult, Lane

EXCLUDED = "excluded"


@dataclass(frozen=True)
class Served:
    """One request as it ended. `request` is what the engine was asked (secrets as placeholders); `prompt`
    and `completion` are its code, kept only where the tenant retains code (else empty)."""

    tenant: Tenant
    request: CompletionRequest
    request_id: str
    lane: Lane
    model: str
    result: CompletionResult | None  # None: cancelled or failed before the end
    stats: GenerationStats | None  # None: the engine was not asked, or did not finish
    failed: bool = False
    redactions: int = 0
    prompt: str = ""
    completion: str = ""

    @property
    def outcome(self) -> str:
        """shown, excluded, abstained:<why>, cancelled or error."""
        if self.failed:
            return "error"
        if self.result is None:
            return "cancelled"
        if self.result.text:
            return "shown"
        if self.result.abstain_reason == EXCLUDED:
            return EXCLUDED
        return f"abstained:{self.result.abstain_reason or self.result.finish_reason}"


Listener = Callable[[Served], None]


class AuditTrail:
    """Writes each request's audit record: sizes, timings and outcome; the (redacted) code only if retained."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def __call__(self, served: Served) -> None:
        result, request = served.result, served.request
        record = AuditRecord(
            request_id=served.request_id,
            model=served.model,
            lane=served.lane,
            trigger=request.trigger,
            prefix_bytes=len(request.prefix.encode("utf-8", "replace")),
            suffix_bytes=len(request.suffix.encode("utf-8", "replace")),
            snippets=result.context.snippets if result else 0,
            redactions=served.redactions,
            prompt_tokens=result.usage.prompt_tokens if result else 0,
            cached_tokens=result.usage.cached_tokens if result else 0,
            completion_chars=len(result.text) if result else 0,
            latency=latency_bucket(result.timings.first_action_ms if result else None),
            outcome=served.outcome,
        )
        code = RetainedCode(served.prompt, served.completion) if served.prompt else None
        self.log.record(served.tenant, record, code)


class UsageLedger:
    """Each tenant's running totals since the service started (what `GET /v1/usage` answers)."""

    def __init__(self) -> None:
        self._totals: dict[str, Counter[str]] = {}

    def of(self, tenant: Tenant) -> dict[str, int]:
        return dict(self._totals.get(tenant.name, Counter()))

    def __call__(self, served: Served) -> None:
        totals = self._totals.setdefault(served.tenant.name, Counter())
        shown = bool(served.result and served.result.text)
        totals["requests"] += 1
        totals["shown"] += shown
        stats = served.stats
        if stats is not None:
            totals["prompt_tokens"] += stats.prompt_tokens
            totals["cached_tokens"] += stats.cached_tokens
            totals["decoded_tokens"] += stats.completion_tokens
            totals["draft_rounds"] += stats.draft_rounds
            totals["draft_accepted"] += stats.draft_accepted
            if not shown:
                totals["unshown_decoded_tokens"] += stats.completion_tokens


def metrics_listener(metrics: Metrics) -> Listener:
    """Counts each request in `metrics`; a prefetch in a lane of its own ("prefetch"), its latency not being
    any user's wait."""

    def count(served: Served) -> None:
        outcome = served.outcome.split(":")[0]
        if served.request.background:
            metrics.request(served.tenant.name, "prefetch", served.model, outcome, None, served.stats)
        else:
            metrics.request(served.tenant.name, served.lane, served.model, outcome, served.result, served.stats)

    return count
