"""Gateway overhead: what HTTP, JSON and Server-Sent Events add to a completion, and the server's memory.

A real `keystroke serve` process answers the same warm request as an in-process `CompletionService`, in
alternation, in one run. For each HTTP request the overhead is paired: the client's wall time minus the
service time the server itself reports for that very request (`timings.total_ms`), so engine noise cancels
out. The in-process figure (wall minus reported service time of a direct call) is printed beside it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from keystroke.domain.statistics import percentiles
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
PREFIX = "def fibonacci(n):\n    if n < 2:\n        return n\n    return"
BODY: dict[str, Any] = {"language": "python", "segments": {"prefix": PREFIX}, "mode": "inline"}
_URL = re.compile(r"serving (http://\S+)")


@dataclass
class GatewayReport:
    in_process_ms: list[float] = field(default_factory=list)
    json_ms: list[float] = field(default_factory=list)
    sse_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    resident_mb: float = 0.0
    peak_resident_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.json_ms),
            "overhead_ms": {
                "in_process": percentiles(self.in_process_ms),
                "http_json": percentiles(self.json_ms),
                "http_sse": percentiles(self.sse_ms),
            },
            "service_ms": percentiles(self.service_ms),
            "server_resident_mb": self.resident_mb,
            "server_peak_resident_mb": self.peak_resident_mb,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "samples": asdict(self)}


@contextmanager
def gateway_process(extra_args: list[str]) -> Iterator[tuple[str, int]]:
    """A `keystroke serve --port 0` subprocess; yields (url, pid)."""
    command = [sys.executable, "-m", "keystroke", "serve", "--port", "0", *extra_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    try:
        url = None
        for line in process.stdout:
            match = _URL.search(line)
            if match:
                url = match.group(1)
                break
        if url is None:
            raise RuntimeError(f"keystroke serve exited with status {process.wait()} before it listened")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


async def run_gateway(
    service: CompletionService, url: str, pid: int, requests: int, progress: Progress | None = None
) -> GatewayReport:
    report = GatewayReport()
    request = CompletionRequest(prefix=PREFIX, language="python", mode="inline")
    with httpx.Client(base_url=url, timeout=60) as client:
        client.post("/v1/completions", json=BODY)  # warm the server's cache and connection
        await service.complete(request)
        for _ in range(requests):
            started = time.perf_counter()
            result = await service.complete(request)
            report.in_process_ms.append(_ms(started) - result.timings.total_ms)
            report.json_ms.append(_json_overhead(client, report))
            report.sse_ms.append(_sse_overhead(client))
            if progress:
                progress(1)
    report.resident_mb, report.peak_resident_mb = resident_memory(pid)
    return report


def _json_overhead(client: httpx.Client, report: GatewayReport) -> float:
    started = time.perf_counter()
    body = client.post("/v1/completions", json=BODY).json()
    wall = _ms(started)
    report.service_ms.append(body["timings"]["total_ms"])
    return wall - float(body["timings"]["total_ms"])


def _sse_overhead(client: httpx.Client) -> float:
    started = time.perf_counter()
    done: dict[str, Any] = {}
    with client.stream("POST", "/v1/completions", json={**BODY, "stream": True}) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and '"usage"' in line:
                done = json.loads(line[6:])
    return _ms(started) - float(done["timings"]["total_ms"])


def resident_memory(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of a process in MB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def format_gateway(summary: dict[str, Any]) -> str:
    lines = [f"gateway overhead: {summary['requests']} requests of each kind, same warm request, paired"]
    lines.append(f"  {'':<28}{'p50':>10}{'p95':>10}{'p99':>10}")
    labels = {"in_process": "in-process call ms", "http_json": "HTTP + JSON ms", "http_sse": "HTTP + SSE ms"}
    for key, label in labels.items():
        cells = "".join(f"{v:>10.2f}" for v in summary["overhead_ms"][key].values())
        lines.append(f"  {label:<28}{cells}")
    service = "".join(f"{v:>10.1f}" for v in summary["service_ms"].values())
    lines.append(f"  {'service time (for scale) ms':<28}{service}")
    lines.append(
        f"  server resident memory: {summary['server_resident_mb']:.0f} MB now, "
        f"{summary['server_peak_resident_mb']:.0f} MB peak"
    )
    return "\n".join(lines)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
