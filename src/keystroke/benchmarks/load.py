"""Load benchmark: N simulated editors typing at once against the embedded engine, for growing N.

Each editor is its own tenant typing in its own file (a module of the standard library) at human pace:
150-350 ms between keys, and a pause of about a second every `burst` keys. Every keystroke asks for an
inline completion in the editor's session, so the previous request of that editor is superseded, as an
editor cancels it. The requests go through the completion service with its admission control, exactly as
the gateway runs them (the HTTP layer turns `OverloadedError` into 429 + Retry-After).

Each editor first opens its file (one request, not measured: the cold prompt), then types. Speculative
decoding is off (its gate's measuring phase would add its own variance; `bench speculative` measures it).

Per N: requests, suggestions shown, superseded or dropped at their queue deadline, refused (429), and
first-action p50/p95 of the shown inline suggestions (queue wait included). Reported: the largest N whose
p95 stays within the target with at least `MIN_SHOWN` suggestions shown, and what the refusals beyond it
said.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from keystroke.benchmarks.kv import ScriptedFile, scripted_file
from keystroke.domain.privacy.tenants import Tenant
from keystroke.domain.statistics import percentiles
from keystroke.errors import OverloadedError
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
TARGET_P95_MS = 300.0
MIN_SHOWN = 10  # a level with fewer shown suggestions has no meaningful p95


@dataclass
class LoadLevel:
    editors: int
    outcomes: Counter[str] = field(default_factory=Counter)
    first_action_ms: list[float] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        latency = percentiles(self.first_action_ms)
        p95 = latency["p95"]
        return {
            "editors": self.editors,
            "requests": sum(self.outcomes.values()),
            "outcomes": dict(self.outcomes),
            "first_action_ms": latency,
            "within_target": p95 is not None and p95 <= TARGET_P95_MS and len(self.first_action_ms) >= MIN_SHOWN,
            "refusal_examples": self.refusals[:2],
        }


async def run_level(
    service: CompletionService, files: list[Path], editors: int, keys: int, burst: int, seed: int
) -> LoadLevel:
    level = LoadLevel(editors)
    scripts = [scripted_file(files[index % len(files)], keys) for index in range(editors)]
    await asyncio.gather(
        *(
            _editor(service, Tenant(f"load-{index}"), script, keys, burst, random.Random(seed + index), level)
            for index, script in enumerate(scripts)
        )
    )
    return level


async def _editor(
    service: CompletionService,
    tenant: Tenant,
    script: ScriptedFile,
    keys: int,
    burst: int,
    rng: random.Random,
    level: LoadLevel,
) -> None:
    requests: list[asyncio.Task[None]] = []
    await asyncio.sleep(rng.uniform(0, 0.3))  # editors do not start in lockstep
    with contextlib.suppress(OverloadedError):  # the file is opened (its prompt evaluated) before the typing
        await service.complete(replace(script.request(script.offsets[0]), max_tokens=1), tenant)
    for index, offset in enumerate(script.offsets[:keys]):
        request = script.request(offset)
        requests.append(asyncio.ensure_future(_ask(service, tenant, request, level)))
        pause = rng.uniform(0.8, 1.4) if (index + 1) % burst == 0 else rng.uniform(0.15, 0.35)
        await asyncio.sleep(pause)
    await asyncio.gather(*requests)


async def _ask(service: CompletionService, tenant: Tenant, request: CompletionRequest, level: LoadLevel) -> None:
    session = f"load-{tenant.name}"
    try:
        result = await service.complete(_with_session(request, session), tenant)
    except OverloadedError as exc:
        level.outcomes["refused (429)"] += 1
        level.refusals.append({"status": 429, "retry_after_ms": round(exc.retry_after_ms), "message": exc.message})
        return
    if result.text and result.timings.first_action_ms is not None:
        level.outcomes["shown"] += 1
        level.first_action_ms.append(result.timings.first_action_ms)
    elif result.finish_reason == "cancelled":
        level.outcomes["superseded or dropped"] += 1
    else:
        level.outcomes["empty"] += 1


def _with_session(request: CompletionRequest, session: str) -> CompletionRequest:
    return replace(request, session_id=session)


def largest_within_target(levels: list[dict[str, Any]]) -> int | None:
    within = [level["editors"] for level in levels if level["within_target"]]
    return max(within) if within else None


def format_load(levels: list[dict[str, Any]]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    rows = [
        f"N simulated editors, each its own tenant and file; inline first action target p95 <= {TARGET_P95_MS:.0f} ms"
    ]
    rows.append(f"  {'N':>3}{'requests':>10}{'shown':>7}{'superseded':>12}{'429':>6}{'p50 ms':>8}{'p95 ms':>8}  target")
    for level in levels:
        outcomes = level["outcomes"]
        first = level["first_action_ms"]
        rows.append(
            f"  {level['editors']:>3}{level['requests']:>10}{outcomes.get('shown', 0):>7}"
            f"{outcomes.get('superseded or dropped', 0):>12}{outcomes.get('refused (429)', 0):>6}"
            f"{ms(first['p50']):>8}{ms(first['p95']):>8}  {'met' if level['within_target'] else 'missed'}"
        )
    best = largest_within_target(levels)
    rows.append(f"  largest N within the target: {best if best is not None else 'none'}")
    examples = [example for level in levels for example in level["refusal_examples"]][:1]
    for example in examples:
        rows.append(
            f"  a 429 beyond it: Retry-After {max(1, round(example['retry_after_ms'] / 1000))} s, "
            f'"{example["message"]}"'
        )
    return "\n".join(rows)
