"""Soak: minutes of mixed traffic at a steady rate against a real gateway, watching it for leaks and 5xx.

The traffic is what a gateway meets in a day, in proportion: completions streamed to their end, streams the
client hangs up on after the first line, plain completions, `/infill`, telemetry posted and read, the
dashboard and metrics, and bad requests of every kind (malformed and hostile JSON, wrong types, a form post,
a foreign Origin, an unknown tenant, a wrong key). Several tenants send it, each with its own key. Requests
start on a fixed schedule (`rate` per second, open loop), at most `MAX_IN_FLIGHT` at once; a start that
finds them all busy is counted as skipped, so an overloaded gateway shows as such instead of slowing the
schedule down.

Every `sample_s` seconds the gateway process's resident memory, descriptors and threads are read with the
counts so far. The verdict covers the samples after `warmup_s` (caches, the KV slot store and the allocator
fill first): the least-squares slope of resident memory (MB per minute), the spread of descriptors, and the
number of answers with status 500 or above, which must be 0.
"""

from __future__ import annotations

import asyncio
import json
import random
import textwrap
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from keystroke.benchmarks.gateway_process import GatewayProcess
from keystroke.domain.statistics import percentiles

MAX_IN_FLIGHT = 8
SLOPE_LIMIT_MB_PER_MIN = 1.0
Action = Callable[["Traffic", httpx.AsyncClient], Awaitable[str]]


@dataclass
class Sample:
    at_s: float
    rss_mb: float
    descriptors: int
    threads: int
    requests: int
    server_errors: int
    refused: int  # 429s: admission control doing its job, not a failure
    completion_p50_ms: float | None


@dataclass
class SoakReport:
    minutes: float
    rate: float
    tenants: int
    warmup_s: float
    samples: list[Sample] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # action:status
    skipped: int = 0

    def verdict(self) -> dict[str, Any]:
        steady = [s for s in self.samples if s.at_s >= self.warmup_s] or self.samples
        fds = [s.descriptors for s in steady]
        errors = sum(n for key, n in self.outcomes.items() if key.rsplit(":", 1)[1].startswith("5"))
        slope = rss_slope(steady)
        return {
            "requests": sum(self.outcomes.values()),
            "server_errors": errors,
            "skipped": self.skipped,
            "rss_slope_mb_per_min": slope,
            "descriptors_min": min(fds) if fds else None,
            "descriptors_max": max(fds) if fds else None,
            "passed": errors == 0 and slope is not None and slope < SLOPE_LIMIT_MB_PER_MIN,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "rate": self.rate,
            "tenants": self.tenants,
            "warmup_s": self.warmup_s,
            "samples": [asdict(s) for s in self.samples],
            "outcomes": dict(sorted(self.outcomes.items())),
            "verdict": self.verdict(),
        }


def rss_slope(samples: list[Sample]) -> float | None:
    """Least-squares slope of resident memory over time, in MB per minute."""
    if len(samples) < 2:
        return None
    xs = [s.at_s / 60 for s in samples]
    ys = [s.rss_mb for s in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


class Traffic:
    """The request mix against one gateway, with counters."""

    def __init__(self, gateway: GatewayProcess, seed: int) -> None:
        self.gateway = gateway
        self.rng = random.Random(seed)
        self.lines = Path(textwrap.__file__).read_text().splitlines(keepends=True)
        self.outcomes: Counter[str] = Counter()
        self.completion_ms: list[float] = []
        self.tenants = list(gateway.keys) or ["local"]

    def headers(self, tenant: str | None = None) -> dict[str, str]:
        key = self.gateway.keys.get(tenant or self.rng.choice(self.tenants))
        return {"Authorization": f"Bearer {key}"} if key else {}

    def completion(self, **extra: Any) -> dict[str, Any]:
        cut = self.rng.randrange(5, len(self.lines) - 5)
        line = self.lines[cut]
        column = self.rng.randrange(0, max(1, len(line.rstrip("\n"))))
        prefix = "".join(self.lines[max(0, cut - 60) : cut]) + line[:column]
        suffix = line[column:] + "".join(self.lines[cut + 1 : cut + 10])
        body = {"language": "python", "segments": {"prefix": prefix, "suffix": suffix, "filepath": "textwrap.py"}}
        return {**body, "mode": "inline", "trigger": "automatic", "max_tokens": 24, **extra}

    async def run(self, name: str, action: Action, client: httpx.AsyncClient) -> None:
        try:
            status = await action(self, client)
        except httpx.HTTPError as exc:
            status = f"transport-{type(exc).__name__}"
        self.outcomes[f"{name}:{status}"] += 1


async def _stream_to_end(traffic: Traffic, client: httpx.AsyncClient) -> str:
    started = time.perf_counter()
    body = traffic.completion(stream=True, session_id=f"soak-{traffic.rng.randrange(4)}")
    async with client.stream("POST", "/v1/completions", json=body, headers=traffic.headers()) as response:
        async for _ in response.aiter_lines():
            pass
    if response.status_code == 200:
        traffic.completion_ms.append((time.perf_counter() - started) * 1000)
    return str(response.status_code)


async def _hang_up(traffic: Traffic, client: httpx.AsyncClient) -> str:
    body = traffic.completion(stream=True, mode="multiline", max_tokens=120)
    async with client.stream("POST", "/v1/completions", json=body, headers=traffic.headers()) as response:
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                break  # the client goes away after the first event
    return str(response.status_code)


async def _complete(traffic: Traffic, client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/completions", json=traffic.completion(), headers=traffic.headers())
    return str(response.status_code)


async def _infill(traffic: Traffic, client: httpx.AsyncClient) -> str:
    body = traffic.completion()
    infill = {"input_prefix": body["segments"]["prefix"], "input_suffix": body["segments"]["suffix"], "n_predict": 16}
    response = await client.post("/infill", json=infill, headers=traffic.headers())
    return str(response.status_code)


async def _events(traffic: Traffic, client: httpx.AsyncClient) -> str:
    n = traffic.rng.randrange(1000)
    events = [
        {"kind": "shown", "suggestion_id": f"s{n}", "lane": "inline", "language": "python", "chars": 9,
         "latency_ms": 120.0},
        {"kind": "accepted", "suggestion_id": f"s{n}", "lane": "inline", "chars": 9},
    ]  # fmt: skip
    response = await client.post("/v1/events", json={"events": events}, headers=traffic.headers())
    return str(response.status_code)


async def _reads(traffic: Traffic, client: httpx.AsyncClient) -> str:
    tenant = traffic.rng.choice(traffic.tenants)
    path = traffic.rng.choice(["/v1/telemetry", "/v1/usage", "/v1/audit?limit=20", "/v1/models", "/healthz"])
    response = await client.get(path, headers=traffic.headers(tenant))
    return str(response.status_code)


async def _heavy_reads(traffic: Traffic, client: httpx.AsyncClient) -> str:
    path = traffic.rng.choice(["/v1/dashboard", "/metrics"])
    response = await client.get(path, headers=traffic.headers())
    return str(response.status_code)


_BAD_BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b'{"segments": {"prefix": 5}}', {}),
    (b"[" * 5000 + b"]" * 5000, {}),
    (b'{"segments": {"prefix": "a"}, "max_tokens": ' + b"9" * 5000 + b"}", {}),
    (b'{"segments": {"prefix": "a"', {}),
    (b'{"segments": {"prefix": "\xff\xfe"}}', {}),
    (b'{"segments": {"prefix": "a"}}', {"content-type": "text/plain"}),
    (b'{"segments": {"prefix": "a"}}', {"origin": "http://evil.example"}),
    (b'{"segments": {"prefix": "a"}}', {"authorization": "Bearer ks_00000000_" + "x" * 43}),
]


async def _bad(traffic: Traffic, client: httpx.AsyncClient) -> str:
    body, extra = traffic.rng.choice(_BAD_BODIES)
    headers = httpx.Headers({"content-type": "application/json", **traffic.headers()})
    headers.update(extra)  # names compare case-insensitively: a wrong key replaces the right one
    if traffic.rng.random() < 0.3:
        response = await client.get("/v1/telemetry", params={"tenant": f"nobody{traffic.rng.randrange(10**6)}"},
                                    headers=traffic.headers())  # fmt: skip
    else:
        response = await client.post("/v1/completions", content=body, headers=headers)
    return str(response.status_code)


MIX: list[tuple[str, float, Action]] = [
    ("stream", 0.25, _stream_to_end),
    ("hang-up", 0.10, _hang_up),
    ("complete", 0.15, _complete),
    ("infill", 0.08, _infill),
    ("events", 0.12, _events),
    ("reads", 0.12, _reads),
    ("dashboard+metrics", 0.03, _heavy_reads),
    ("bad", 0.15, _bad),
]


async def run_soak(
    gateway: GatewayProcess,
    *,
    minutes: float,
    rate: float,
    sample_s: float,
    warmup_s: float,
    seed: int = 0,
    progress: Callable[[Sample], None] | None = None,
) -> SoakReport:
    """Send the mix for `minutes` at `rate` requests per second; sample the process every `sample_s`."""
    traffic = Traffic(gateway, seed)
    report = SoakReport(minutes, rate, len(traffic.tenants), warmup_s)
    names, weights, actions = zip(*[(n, w, a) for n, w, a in MIX], strict=True)
    started = time.monotonic()
    end = started + minutes * 60
    in_flight: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT * 2)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60, limits=limits) as client:
        sampler = asyncio.create_task(_sample(gateway, traffic, report, started, sample_s, progress))
        tick = 0
        while (now := time.monotonic()) < end:
            due = started + tick / rate
            if due > now:
                await asyncio.sleep(due - now)
            tick += 1
            if len(in_flight) >= MAX_IN_FLIGHT:
                report.skipped += 1
                continue
            index = traffic.rng.choices(range(len(names)), weights=weights)[0]
            task = asyncio.create_task(traffic.run(names[index], actions[index], client))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
        sampler.cancel()
    report.samples.append(_take(gateway, traffic, started))
    report.outcomes = traffic.outcomes
    return report


async def _sample(
    gateway: GatewayProcess,
    traffic: Traffic,
    report: SoakReport,
    started: float,
    every_s: float,
    progress: Callable[[Sample], None] | None,
) -> None:
    while True:
        sample = _take(gateway, traffic, started)
        report.samples.append(sample)
        if progress is not None:
            progress(sample)
        await asyncio.sleep(every_s)


def _take(gateway: GatewayProcess, traffic: Traffic, started: float) -> Sample:
    use = gateway.usage()
    statuses: Counter[str] = Counter()
    for key, n in traffic.outcomes.items():
        statuses[key.rsplit(":", 1)[1]] += n
    recent = traffic.completion_ms[-200:]
    return Sample(
        at_s=round(time.monotonic() - started, 1),
        rss_mb=round(use.rss_mb, 1),
        descriptors=use.descriptors,
        threads=use.threads,
        requests=sum(statuses.values()),
        server_errors=sum(n for status, n in statuses.items() if status.startswith("5")),
        refused=statuses.get("429", 0),
        completion_p50_ms=percentiles(recent)["p50"],
    )


def format_soak(report: dict[str, Any]) -> str:
    lines = [
        f"soak: {report['minutes']:g} min at {report['rate']:g} requests/s from {report['tenants']} tenant(s); "
        f"verdict over the samples after {report['warmup_s']:g} s of warm-up",
        "",
        f"{'time s':>8} {'RSS MB':>8} {'fds':>5} {'threads':>7} {'requests':>9} {'5xx':>5} {'429':>5} "
        f"{'stream p50 ms':>13}",
    ]
    for s in report["samples"]:
        p50 = "-" if s["completion_p50_ms"] is None else f"{s['completion_p50_ms']:.0f}"
        lines.append(
            f"{s['at_s']:>8.0f} {s['rss_mb']:>8.1f} {s['descriptors']:>5} {s['threads']:>7} {s['requests']:>9} "
            f"{s['server_errors']:>5} {s['refused']:>5} {p50:>13}"
        )
    verdict = report["verdict"]
    slope = verdict["rss_slope_mb_per_min"]
    lines += [
        "",
        "outcomes (action:status): " + json.dumps(report["outcomes"]),
        f"requests {verdict['requests']}, skipped (all {MAX_IN_FLIGHT} busy) {verdict['skipped']}, "
        f"5xx {verdict['server_errors']}",
        f"RSS slope after warm-up: {'-' if slope is None else f'{slope:+.3f}'} MB/min (target < "
        f"{SLOPE_LIMIT_MB_PER_MIN:g}); descriptors {verdict['descriptors_min']}-{verdict['descriptors_max']}",
        f"verdict: {'PASS' if verdict['passed'] else 'FAIL'}",
    ]
    return "\n".join(lines)
