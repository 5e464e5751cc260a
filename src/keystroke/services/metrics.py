"""The gateway's Prometheus metrics: what `GET /metrics` exposes, fed by the completion service and telemetry.

- `keystroke_requests_total{lane,model,outcome}`: completion requests by lane (inline, multiline, invoked;
  `prefetch` for background requests, whose latency is left out of the histograms), the model that served
  the lane, and outcome (shown, abstained, cancelled, excluded);
- `keystroke_first_action_seconds{lane,model}`: first action per lane and model, as the service measured it;
- `keystroke_stage_seconds{stage}`: histograms of the serving stages: queue, context (prompt build), prefill,
  first token and first action, as the service measured them;
- `keystroke_prompt_tokens_total`, `keystroke_cached_prompt_tokens_total` and the gauge
  `keystroke_kv_cache_hit_ratio` (their quotient);
- `keystroke_cancellations_total{reason}` (a superseded request, a deadline, or `reader gone`: the client hung
  up or the editor stopped waiting); `keystroke_draft_rounds_total`, `keystroke_draft_accepted_total`;
- `keystroke_refused_total{reason}`: requests answered 429 (tenant, engine or multi-line limit);
- from the editors' telemetry: `keystroke_editor_events_total{kind,lane}`, the histogram
  `keystroke_editor_first_action_seconds{lane}` (the user's view, result cache and local lane included) and
  the gauge `keystroke_result_cache_hit_ratio` (cache-lane suggestions / eligible requests).

One registry per service (never the process-global one), so two gateways in one process do not mix.
For the dashboard it also keeps, per tenant, the last `RECENT` timings of each stage and the prompt and
cached token totals. Thread-safe (prometheus-client's metrics are; the per-tenant figures are only touched
from the event loop).
"""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from keystroke.domain.engines.base import GenerationStats
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.services.types import CompletionResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
STAGES = ("queue", "context", "prefill", "first_token", "first_action")
ELIGIBLE = ("shown", "abstained", "stale")
RECENT = 5000
CONSUMER_GONE = "reader gone"  # the stream was closed before its end (an HTTP client hung up, an editor moved on)


@dataclass
class TenantFigures:
    """One tenant's recent serving figures, for its dashboard."""

    stages: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=RECENT)))
    # first action by who served it: "lane · model" (a model per lane)
    served: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(lambda: deque(maxlen=RECENT)))
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def kv_hit_ratio(self) -> float | None:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else None


class Metrics:
    def __init__(self, refused: Callable[[], Tally[str]] = Tally) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("keystroke_requests", "Completion requests by lane, model and outcome.",
                                ["lane", "model", "outcome"], registry=r)  # fmt: skip
        self.first_action = Histogram("keystroke_first_action_seconds", "First action by lane and model.",
                                      ["lane", "model"], buckets=LATENCY_BUCKETS_S, registry=r)  # fmt: skip
        self.stages = Histogram("keystroke_stage_seconds", "Serving stage latencies.", ["stage"],
                                buckets=LATENCY_BUCKETS_S, registry=r)  # fmt: skip
        self.prompt_tokens = Counter("keystroke_prompt_tokens", "Prompt tokens of generations.", registry=r)
        self.cached_tokens = Counter("keystroke_cached_prompt_tokens", "Prompt tokens served from the KV cache.",
                                     registry=r)  # fmt: skip
        self.cancellations = Counter("keystroke_cancellations", "Generations cancelled, by reason.", ["reason"],
                                     registry=r)  # fmt: skip
        self.draft_rounds = Counter("keystroke_draft_rounds", "Speculative batches verified.", registry=r)
        self.draft_accepted = Counter("keystroke_draft_accepted", "Draft tokens accepted.", registry=r)
        self.editor_events = Counter("keystroke_editor_events", "Editors' telemetry events by kind and lane.",
                                     ["kind", "lane"], registry=r)  # fmt: skip
        self.editor_first_action = Histogram("keystroke_editor_first_action_seconds",
                                             "First action as editors saw it, by lane.", ["lane"],
                                             buckets=LATENCY_BUCKETS_S, registry=r)  # fmt: skip
        self._eligible = 0
        self._cache_shown = 0
        self.tenants: dict[str, TenantFigures] = defaultdict(TenantFigures)
        r.register(_Derived(self, refused))

    def request(
        self,
        tenant: str,
        lane: str,
        model: str,
        outcome: str,
        result: CompletionResult | None,
        stats: GenerationStats | None,
    ) -> None:
        """One finished request to the completion service, answered (or not) by `model` in `lane`."""
        self.requests.labels(lane, model, outcome).inc()
        figures = self.tenants[tenant]
        if stats is not None:
            figures.prompt_tokens += stats.prompt_tokens
            figures.cached_tokens += stats.cached_tokens
            self.prompt_tokens.inc(stats.prompt_tokens)
            self.cached_tokens.inc(stats.cached_tokens)
            self.draft_rounds.inc(stats.draft_rounds)
            self.draft_accepted.inc(stats.draft_accepted)
            if stats.finish_reason == "cancelled":
                self.cancellations.labels(stats.cancel_reason or "cancelled").inc()
        elif outcome == "cancelled":  # its reader went away mid-generation: a client that hung up, say
            self.cancellations.labels(CONSUMER_GONE).inc()
        if result is None:
            return
        t = result.timings
        if t.first_action_ms is not None:
            self.first_action.labels(lane, model).observe(t.first_action_ms / 1000)
            figures.served[f"{lane} · {model}"].append(t.first_action_ms)
        for stage, ms in zip(STAGES, (t.queue_ms, t.prompt_build_ms, t.prefill_ms, t.first_token_ms,
                                      t.first_action_ms), strict=True):  # fmt: skip
            if ms is not None and (stats is not None or stage == "context"):
                self.stages.labels(stage).observe(ms / 1000)
                figures.stages[stage].append(ms)

    def editor(self, events: Iterable[Event]) -> None:
        """Telemetry events received from an editor."""
        for event in events:
            self.editor_events.labels(event.kind, event.lane or "unknown").inc()
            if event.kind in ELIGIBLE:
                self._eligible += 1
            if event.kind == "shown":
                self._cache_shown += event.lane == "cache"
                if event.latency_ms is not None:
                    self.editor_first_action.labels(event.lane or "unknown").observe(event.latency_ms / 1000)

    async def ingest(self, store: TelemetryStore, tenant: str, events: list[Event]) -> int:
        """Editors' events for `tenant`: counted here, kept in the tenant's store; how many were kept."""
        self.editor(events)
        return await asyncio.to_thread(store.add, tenant, events)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def kv_hit_ratio(self) -> float:
        prompt = sum(f.prompt_tokens for f in self.tenants.values())
        return sum(f.cached_tokens for f in self.tenants.values()) / prompt if prompt else 0.0

    def result_cache_hit_ratio(self) -> float:
        return self._cache_shown / self._eligible if self._eligible else 0.0


class _Derived(Collector):
    """Values computed at scrape time: hit ratios, and the admission controller's refusals."""

    def __init__(self, metrics: Metrics, refused: Callable[[], Tally[str]]) -> None:
        self._metrics = metrics
        self._refused = refused

    def collect(self) -> Iterable[Metric]:
        kv = GaugeMetricFamily("keystroke_kv_cache_hit_ratio", "Share of prompt tokens served from the KV cache.")
        kv.add_metric([], self._metrics.kv_hit_ratio())
        cache = GaugeMetricFamily("keystroke_result_cache_hit_ratio",
                                  "Share of eligible editor requests answered from the result cache.")  # fmt: skip
        cache.add_metric([], self._metrics.result_cache_hit_ratio())
        refused = CounterMetricFamily("keystroke_refused", "Requests refused with 429, by limit.", labels=["reason"])
        for reason, n in sorted(self._refused().items()):
            refused.add_metric([reason], n)
        return [kv, cache, refused]
