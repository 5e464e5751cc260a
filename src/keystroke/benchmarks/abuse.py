"""Connection-level abuse: many connections that are silent, slow or gone, while ordinary requests go on.

Kinds of connection, opened all at once against a real gateway:
- `idle`: connects and sends nothing;
- `slow-header`: sends a request line, then one header byte every `drip_s` seconds, never finishing;
- `slow-body`: sends a whole header announcing a 1,000-byte body, then one byte of it every `drip_s`;
- `big-header`: sends header fields without end, as fast as the connection takes them;
- `hang-up`: asks for a streamed multi-line completion and closes the connection at the first byte back.

Each probe records how long the server took to answer it (408 for a deadline, 431 for a header over its limit)
and to close its connection, from when the client's connection opened. The clients share one event loop, so
every writer yields after each write: a writer that did not would starve the readers and delay what they see.
Meanwhile a foreground client sends ordinary requests (health and a completion, one after another) and records
their status and latency: the gateway must go on serving them. The gateway's descriptors are read before, at the
peak and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from keystroke.benchmarks.gateway_process import GatewayProcess
from keystroke.domain.statistics import percentiles

KINDS = ("idle", "slow-header", "slow-body", "big-header")


@dataclass
class ProbeKind:
    kind: str
    opened: int = 0
    closed_s: list[float] = field(default_factory=list)  # seconds until the server closed each connection
    answered_s: list[float] = field(default_factory=list)  # seconds until its answer (408, 431) arrived
    held: int = 0  # still open when the probe gave up
    answers: Counter[str] = field(default_factory=Counter)  # the status line the server sent, if any

    def summary(self) -> dict[str, Any]:
        marks = percentiles(self.closed_s)
        return {
            "kind": self.kind,
            "opened": self.opened,
            "closed_by_server": len(self.closed_s),
            "held": self.held,
            "closed_p50_s": marks["p50"],
            "closed_max_s": max(self.closed_s) if self.closed_s else None,
            "answered_p50_s": percentiles(self.answered_s)["p50"],
            "answered_max_s": max(self.answered_s) if self.answered_s else None,
            "answers": dict(self.answers),
        }


@dataclass
class AbuseReport:
    kinds: dict[str, ProbeKind]
    served: Counter[str] = field(default_factory=Counter)
    served_ms: list[float] = field(default_factory=list)
    descriptors: dict[str, int] = field(default_factory=dict)
    hangups: int = 0

    def to_json(self) -> dict[str, Any]:
        served_ok = self.served.get("200", 0)
        return {
            "probes": [k.summary() for k in self.kinds.values()],
            "hangups": self.hangups,
            "served": dict(self.served),
            "served_ms": percentiles(self.served_ms),
            "descriptors": self.descriptors,
            "passed": all(k.held == 0 and k.closed_s for k in self.kinds.values())
            and served_ok > 0
            and served_ok == sum(self.served.values()),
        }


async def run_abuse(
    gateway: GatewayProcess,
    *,
    connections: int,
    hangups: int,
    drip_s: float,
    give_up_s: float,
    progress: Callable[[int], None] | None = None,
) -> AbuseReport:
    """Open `connections` abusive connections (spread over the kinds) and `hangups` hung-up streams; wait until
    the server has closed them all (or `give_up_s`), serving ordinary requests meanwhile."""
    parts = urlsplit(gateway.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    report = AbuseReport({kind: ProbeKind(kind) for kind in KINDS})
    await _warm_up(gateway)  # the audit log and telemetry files open at first use: not the probes' doing
    report.descriptors["before"] = gateway.usage().descriptors
    deadline = time.monotonic() + give_up_s
    probes = [
        asyncio.create_task(_probe(report.kinds[KINDS[n % len(KINDS)]], host, port, drip_s, deadline, progress))
        for n in range(connections)
    ]
    stop = asyncio.Event()
    foreground = asyncio.create_task(_serve_meanwhile(gateway, report, stop))
    peak = asyncio.create_task(_watch_peak(gateway, report, stop))
    report.hangups = sum(await asyncio.gather(*(_hang_up(gateway) for _ in range(hangups))))
    await asyncio.gather(*probes)
    stop.set()
    await asyncio.gather(foreground, peak)
    await asyncio.sleep(3.0)  # the last connections' lingering closes
    report.descriptors["after"] = gateway.usage().descriptors
    return report


async def _probe(
    kind: ProbeKind, host: str, port: int, drip_s: float, deadline: float, progress: Callable[[int], None] | None
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    kind.opened += 1
    started = time.monotonic()
    dripper = asyncio.create_task(_misbehave(kind.kind, writer, drip_s))
    try:
        first, answered = await asyncio.wait_for(_until_closed(reader), timeout=max(0.0, deadline - time.monotonic()))
        kind.closed_s.append(time.monotonic() - started)
        if answered is not None:
            kind.answered_s.append(answered - started)
        kind.answers[first.split(b"\r\n", 1)[0].decode("latin-1")[:40] or "(closed, nothing sent)"] += 1
    except TimeoutError:
        kind.held += 1
    finally:
        dripper.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await dripper
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        if progress is not None:
            progress(1)


async def _misbehave(kind: str, writer: asyncio.StreamWriter, drip_s: float) -> None:
    """Write what this kind of client writes, until cancelled (or the server closes)."""
    try:
        if kind == "idle":
            return
        if kind == "slow-header":
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        elif kind == "slow-body":
            writer.write(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n")  # fmt: skip
        elif kind == "big-header":
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for n in range(10_000):
                writer.write(b"X-Filler-%d: %s\r\n" % (n, b"a" * 200))
                await writer.drain()
                await asyncio.sleep(0)  # drain() does not yield while the buffer has room: let the readers run
            return
        while True:
            await writer.drain()
            await asyncio.sleep(drip_s)
            writer.write(b"a")
    except ConnectionError:
        return


async def _until_closed(reader: asyncio.StreamReader) -> tuple[bytes, float | None]:
    """Read until the server closes the connection; the first bytes it sent and when they arrived."""
    first, at = b"", None
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(4096):
            if not first:
                first, at = chunk, time.monotonic()
    return first, at


async def _hang_up(gateway: GatewayProcess) -> int:
    """A streamed completion whose client goes away at the first byte of the answer; 1 if it was sent."""
    body = {"segments": {"prefix": "def fib(n):\n"}, "mode": "multiline", "stream": True, "max_tokens": 200}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        try:
            async with client.stream("POST", "/v1/completions", json=body) as response:
                async for _ in response.aiter_bytes():
                    return 1
        except httpx.HTTPError:
            return 0
    return 0


async def _warm_up(gateway: GatewayProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        await client.post("/v1/completions", json={"segments": {"prefix": "x = 1\n"}, "max_tokens": 4})
        await client.post("/v1/events", json={"events": [{"kind": "abstained", "lane": "inline"}]})


async def _serve_meanwhile(gateway: GatewayProcess, report: AbuseReport, stop: asyncio.Event) -> None:
    body = {"segments": {"prefix": "def add(a, b):\n    return"}, "mode": "inline", "max_tokens": 8}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        turn = 0
        while not stop.is_set():
            started = time.perf_counter()
            try:
                if turn % 2:
                    response = await client.post("/v1/completions", json=body)
                else:
                    response = await client.get("/healthz")
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = f"transport-{type(exc).__name__}"
            report.served[status] += 1
            report.served_ms.append((time.perf_counter() - started) * 1000)
            turn += 1
            await asyncio.sleep(0.25)


async def _watch_peak(gateway: GatewayProcess, report: AbuseReport, stop: asyncio.Event) -> None:
    while not stop.is_set():
        report.descriptors["peak"] = max(report.descriptors.get("peak", 0), gateway.usage().descriptors)
        await asyncio.sleep(0.5)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_abuse(result: dict[str, Any]) -> str:
    lines = [
        f"{'':<12} {'':>6} {'':>6} {'':>5} {'answer, s':>13} {'closed, s':>13}",
        f"{'connection':<12} {'opened':>6} {'closed':>6} {'held':>5} {'p50':>6} {'max':>6} {'p50':>6} {'max':>6}"
        "  first answer",
    ]
    for probe in result["probes"]:
        times = [_seconds(probe[key]) for key in ("answered_p50_s", "answered_max_s", "closed_p50_s", "closed_max_s")]
        answers = ", ".join(f"{k} x{n}" for k, n in sorted(probe["answers"].items()))
        lines.append(
            f"{probe['kind']:<12} {probe['opened']:>6} {probe['closed_by_server']:>6} {probe['held']:>5} "
            + " ".join(f"{t:>6}" for t in times)
            + f"  {answers}"
        )
    served = result["served_ms"]
    fds = result["descriptors"]
    lines += [
        "",
        f"hung-up streams: {result['hangups']}",
        f"served meanwhile: {json.dumps(result['served'])}; latency p50 {served['p50']:.0f} ms, p95 "
        f"{served['p95']:.0f} ms"
        if served["p50"] is not None
        else "served meanwhile: nothing",
        f"gateway descriptors: before {fds.get('before')}, peak {fds.get('peak')}, after {fds.get('after')}",
        f"verdict: {'PASS' if result['passed'] else 'FAIL'} (every connection closed by the server, every ordinary "
        "request answered 200)",
    ]
    return "\n".join(lines)
