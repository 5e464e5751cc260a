"""What the dashboard shows for one tenant: its telemetry (store) and its recent serving figures (metrics).

Panels: first action per lane as editors saw it, first action per serving lane and model (a model per lane),
serving stages, acceptance and retention over time, and
cache hit ratios (the result cache's: cache-lane suggestions / eligible requests; the KV cache's: prompt
tokens served from it / prompt tokens). Plain numbers; the transports draw them (`transports/plots.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from keystroke.domain.telemetry.store import Rates, TelemetryStore
from keystroke.services.metrics import STAGES, Metrics


@dataclass(frozen=True)
class OverTime:
    start: float  # seconds since the epoch
    acceptance_rate: float | None
    retained_rate: float | None


@dataclass
class Panels:
    """The numbers behind the plots; a panel without data is left out of the drawing."""

    first_action: Mapping[str, Sequence[float]] = field(default_factory=dict)  # lane -> ms
    stages: Mapping[str, Sequence[float]] = field(default_factory=dict)  # stage -> ms
    over_time: Sequence[OverTime] = ()
    caches: Mapping[str, float | None] = field(default_factory=dict)  # name -> hit ratio
    served: Mapping[str, Sequence[float]] = field(default_factory=dict)  # "lane · model" -> first action ms


@dataclass(frozen=True)
class TenantView:
    tenant: str
    rates: Rates
    panels: Panels


def tenant_view(store: TelemetryStore, metrics: Metrics, tenant: str, since: float, bucket_s: float) -> TenantView:
    rates = store.rates(tenant, since)
    lanes = store.lanes(tenant, since)
    figures = metrics.tenants.get(tenant)
    stages = {stage: list(figures.stages.get(stage, ())) for stage in STAGES} if figures else {}
    buckets = store.over_time(tenant, bucket_s, since)
    over_time = [OverTime(b.start, b.acceptance_rate, b.retained_rate_30s) for b in buckets]
    caches = {
        "result cache": lanes.get("cache", 0) / rates.eligible if rates.eligible else None,
        "KV cache": figures.kv_hit_ratio() if figures else None,
    }
    served = {who: list(values) for who, values in figures.served.items()} if figures else {}
    panels = Panels(store.latencies(tenant, since), stages, over_time, caches, served)
    return TenantView(tenant, rates, panels)
