"""Fleet benchmark: real `llama_cpp.server` replicas behind the remote backend, in one run.

1. Routing: interleaved editing of several files (as `bench kv`: a few keystrokes per file, round the files)
   through the completion service, once with prefix-affinity routing and once with round robin, on the same
   replicas (their caches emptied by a warm-up of other text in between). Reported: the affinity hit rate
   (requests sent to the replica that served the same file last) and first-action latency; a hit is what
   lets the replica's prefix cache serve the request.
2. Failover: a multi-line request to a replica that is killed as soon as its first token arrives; reported,
   the time from the failure to the next replica's first token, and that the answer completed.
3. Deadlines: every replica hung (SIGSTOP); requests with a deadline must end by it. Reported: how far past
   its deadline the slowest one ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keystroke.benchmarks.engine_processes import EngineProcess, start_llama_server
from keystroke.benchmarks.kv import scripted_file
from keystroke.config import EngineSettings, Settings
from keystroke.domain.engines.base import DoneEvent, GenerationRequest, Prompt, TokenEvent
from keystroke.domain.engines.factory import build_backend
from keystroke.domain.engines.remote import RemoteBackend
from keystroke.domain.engines.routing import RoundRobin
from keystroke.domain.prompt.profiles import detect_profile
from keystroke.domain.statistics import percentiles
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
FAILOVER_PROMPT = "# The first thirty square numbers, one per line:\nsquares = [\n    1,\n    4,\n"
DEADLINE_MS = 1000.0
COLD_PROMPT_MS = 30_000.0  # a CPU replica on one thread evaluates a cold 1,000-token prompt for seconds


@dataclass
class FleetReport:
    replicas: int
    files: list[str]
    routing: dict[str, dict[str, Any]] = field(default_factory=dict)
    failover: dict[str, Any] = field(default_factory=dict)
    deadline: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "replicas": self.replicas,
            "files": self.files,
            "routing": self.routing,
            "failover": self.failover,
            "deadline": self.deadline,
        }


def remote_settings(base: Settings, urls: list[str], **engine: Any) -> Settings:
    """`base` with a remote engine section for `urls` (more engine fields as keywords), validated."""
    section = EngineSettings.model_validate({**base.engine.model_dump(), "kind": "remote", "urls": urls, **engine})
    return base.model_copy(update={"engine": section})


async def run_routing(
    settings: Settings, urls: list[str], files: list[Path], visits: int, keys: int, progress: Progress | None
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for routing in ("affinity", "round_robin"):
        engine = remote_settings(settings, urls, routing=routing, first_token_timeout_ms=COLD_PROMPT_MS)
        backend = build_backend(engine.engine)
        assert isinstance(backend, RemoteBackend)
        service = CompletionService(backend, detect_profile(backend.info.special_tokens), settings)
        await _flush(backend, len(urls))
        backend.counters = type(backend.counters)()
        first: list[float] = []
        scripts = [scripted_file(path, visits * keys) for path in files]
        for visit in range(visits):
            for script in scripts:
                for offset in script.offsets[visit * keys : (visit + 1) * keys]:
                    result = await service.complete(script.request(offset))
                    if result.timings.first_action_ms is not None:
                        first.append(result.timings.first_action_ms)
                if progress:
                    progress(keys)
        counters = backend.counters
        results[routing] = {
            "requests": counters.requests,
            "affinity_hit_rate": counters.affinity_hits / counters.requests if counters.requests else 0.0,
            "first_action_ms": percentiles(first),
            "served": [replica.served for replica in backend.replicas],
        }
        await backend.aclose()
    return results


async def _flush(backend: RemoteBackend, replicas: int) -> None:
    """Give every replica an unrelated prompt, so no configuration starts with the other's cache."""
    for index in range(replicas):
        request = GenerationRequest(Prompt((f"# warm-up {index}\n",)), max_tokens=1, route_key=f"flush{index}")
        async for _ in backend.generate(request):
            pass


async def run_failover(settings: Settings, victim: EngineProcess, survivor: str) -> dict[str, Any]:
    backend = build_backend(
        remote_settings(settings, [victim.url, survivor], first_token_timeout_ms=COLD_PROMPT_MS).engine
    )
    assert isinstance(backend, RemoteBackend)
    backend.policy = RoundRobin([victim.url, survivor])  # the victim is asked first
    text, finish = "", None
    started = time.perf_counter()
    async for event in backend.generate(GenerationRequest(Prompt((FAILOVER_PROMPT,)), max_tokens=48)):
        if isinstance(event, TokenEvent):
            if not text:
                victim.kill()
            text += event.text
        elif isinstance(event, DoneEvent):
            finish = event.stats.finish_reason
    await backend.aclose()
    return {
        "failovers": backend.counters.failovers,
        "failover_ms": backend.counters.failover_ms[0] if backend.counters.failover_ms else None,
        "total_ms": (time.perf_counter() - started) * 1000,
        "finish_reason": finish,
        "completed": finish in ("length", "eos", "stop"),
        "tokens": len(text),
    }


async def run_deadline(settings: Settings, hung: list[EngineProcess], requests: int) -> dict[str, Any]:
    timed = settings.model_copy(
        update={"admission": settings.admission.model_copy(update={"request_timeout_ms": DEADLINE_MS})}
    )
    backend = build_backend(
        remote_settings(timed, [r.url for r in hung], stall_timeout_ms=60_000.0, first_token_timeout_ms=60_000.0).engine
    )
    assert isinstance(backend, RemoteBackend)
    service = CompletionService(backend, detect_profile(backend.info.special_tokens), timed)
    for replica in hung:
        replica.pause()
    overruns: list[float] = []
    try:
        for index in range(requests):
            started = time.perf_counter()
            await service.complete(CompletionRequest(prefix=f"x{index} = ", filepath=f"f{index}.py"))
            overruns.append((time.perf_counter() - started) * 1000 - DEADLINE_MS)
    finally:
        for replica in hung:
            replica.resume()
        await backend.aclose()
    return {"requests": requests, "deadline_ms": DEADLINE_MS, "max_overrun_ms": max(overruns), "overrun_ms": overruns}


def start_fleet(model: Path, replicas: int, threads: int) -> list[EngineProcess]:
    started: list[EngineProcess] = []
    try:
        for _ in range(replicas):
            started.append(start_llama_server(model, threads=threads))
    except Exception:
        for replica in started:
            replica.stop()
        raise
    return started


def format_fleet(report: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    rows = [f"fleet of {report['replicas']} llama_cpp.server replicas; {len(report['files'])} files edited in turn"]
    rows.append(f"  {'routing':<13}{'requests':>9}{'affinity hits':>15}{'p50 ms':>9}{'p95 ms':>9}   served per replica")
    for name, part in report["routing"].items():
        first = part["first_action_ms"]
        rows.append(
            f"  {name:<13}{part['requests']:>9}{part['affinity_hit_rate']:>15.2f}{ms(first['p50']):>9}"
            f"{ms(first['p95']):>9}   {part['served']}"
        )
    failover = report["failover"]
    rows.append(
        f"  failover: replica killed at its first token; next replica's first token after "
        f"{ms(failover.get('failover_ms'))} ms; answer {'completed' if failover.get('completed') else 'FAILED'} "
        f"({failover.get('finish_reason')}, {ms(failover.get('total_ms'))} ms in all)"
    )
    deadline = report["deadline"]
    rows.append(
        f"  deadlines: {deadline.get('requests')} requests to hung replicas, deadline "
        f"{ms(deadline.get('deadline_ms'))} ms; latest ended {deadline.get('max_overrun_ms', 0):.0f} ms past it"
    )
    return "\n".join(rows)
