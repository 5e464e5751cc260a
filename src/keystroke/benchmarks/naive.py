"""keystroke versus a naive set-up, on the same typing replay and the same model, in one run.

The naive set-up is what many people start with: the stock `python -m llama_cpp.server` and an editor client
that, after every keystroke, waits a fixed 150 ms (restarted by the next keystroke), then sends the 60 lines
before the cursor's line and the line up to the cursor to `/v1/completions` (greedy, stop at the end of the
line) and shows the answer if the
text and cursor are unchanged when it arrives. It never cancels a request it has sent; the server answers
one at a time. keystroke is the whole stack: `keystroke lsp` (adaptive debounce, cancellation, result cache,
local lane) against `keystroke serve`.

Both run the same replay (`typist.py`: the same tasks and seed; a typist accepts a suggestion that is what
it was about to type, so the two runs' keystrokes differ where their suggestions did). Measured for each:
- first-action latency: from the keystroke to the suggestion on screen, per shown suggestion;
- engine CPU-seconds per shown suggestion: the CPU time of the process that runs the model (the stock
  server; the gateway) over the replay, divided by suggestions shown;
- wasted decode tokens: tokens the engine generated minus tokens of the model suggestions shown (for
  keystroke, the gateway's count at `GET /v1/usage`; for the naive client, the servers' `usage` sums). For
  keystroke it is a range: counting only suggestions shown fresh from the model, and counting also those
  shown again from its result cache or from an answer still in flight (a text shown twice counts twice).
- the naive set-up's floor: its server answering a lone request (nothing queued), cold and warm.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from keystroke.benchmarks.replay import ReplayReport, Shown, replay_task
from keystroke.benchmarks.typist import Action, Task
from keystroke.domain.statistics import percentiles

Progress = Callable[[int], None]
NAIVE_DEBOUNCE_S = 0.150
NAIVE_PREFIX_LINES = 60  # whole lines before the cursor's line (as llama.vim's n_prefix): the window moves
# only when the line does, so the server's prefix cache serves keystrokes within a line
NAIVE_MAX_TOKENS = 32


@dataclass
class SideReport:
    """One set-up's replay, with what only the comparison needs."""

    replay: ReplayReport
    cpu_seconds: float = 0.0
    decoded_tokens: int = 0
    shown_model_tokens: int = 0  # tokens of suggestions shown fresh from the model
    shown_derived_tokens: int = 0  # ... plus those shown again from the cache or an answer in flight
    answer_ms: list[float] | None = None  # naive: every answer's arrival, shown or stale
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        shown = self.replay.shown
        return {
            "keystrokes": self.replay.keystrokes,
            "requests": self.replay.requests,
            "shown": len(shown),
            "first_action_ms": percentiles([s.latency_ms for s in shown]),
            "answer_ms": percentiles(self.answer_ms if self.answer_ms is not None else [s.latency_ms for s in shown]),
            "engine_cpu_seconds": self.cpu_seconds,
            "cpu_seconds_per_shown": self.cpu_seconds / len(shown) if shown else None,
            "decoded_tokens": self.decoded_tokens,
            "wasted_decode_tokens": max(self.decoded_tokens - self.shown_model_tokens, 0),
            "wasted_decode_tokens_at_least": max(self.decoded_tokens - self.shown_derived_tokens, 0),
            "stale_shown": self.replay.stale_shown,
            "accepted": sum(s.accepted for s in shown),
            **self.extra,
        }


class NaiveEditor:
    """The naive editor client: fixed debounce, one request per pause, no cancellation, stale answers hidden."""

    def __init__(self, url: str, model: str, report: ReplayReport, client: httpx.AsyncClient) -> None:
        self.url, self.model, self.report, self.client = url, model, report, client
        self.text, self.cursor = "", 0
        self.on_screen: str | None = None
        self.decoded_tokens = 0
        self.answer_ms: list[float] = []  # every answer, shown or not: from its keystroke to its arrival
        self.stale = 0  # answers that arrived after the user typed on
        self.lone: dict[str, Any] = {}  # the server's answer time with nothing queued (`lone_requests`)
        self._timer: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()

    def open(self, uri: str, text: str, cursor: int) -> None:
        del uri
        self.text, self.cursor, self.on_screen = text, cursor, None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def apply(self, action: Action) -> None:
        self.on_screen = None
        if action.text != self.text:
            self.report.keystrokes += 1
        self.text, self.cursor = action.text, action.cursor
        if self._timer is not None:
            self._timer.cancel()  # the debounce restarts; requests already sent are not cancelled
        self._timer = asyncio.ensure_future(self._after_debounce(time.perf_counter()))

    async def drain(self) -> None:
        """Wait for the answers still on their way (their tokens count)."""
        if self._requests:
            await asyncio.gather(*self._requests, return_exceptions=True)

    async def _after_debounce(self, keystroke_at: float) -> None:
        await asyncio.sleep(NAIVE_DEBOUNCE_S)
        task = asyncio.ensure_future(self._ask(keystroke_at, self.text, self.cursor))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _ask(self, keystroke_at: float, text: str, cursor: int) -> None:
        self.report.requests += 1
        body = {
            "model": self.model,
            "prompt": naive_prompt(text, cursor),
            "max_tokens": NAIVE_MAX_TOKENS,
            "temperature": 0.0,
            "stop": ["\n"],
        }
        try:
            answer = (await self.client.post(f"{self.url}/v1/completions", json=body)).json()
            suggestion = str(answer["choices"][0]["text"])
            self.decoded_tokens += int(answer.get("usage", {}).get("completion_tokens", 0))
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            self.report.errors += 1
            self.report.server.setdefault("errors", []).append(type(exc).__name__)
            return
        latency = (time.perf_counter() - keystroke_at) * 1000
        self.answer_ms.append(latency)
        if (self.text, self.cursor) != (text, cursor):
            self.stale += 1
            return  # the user typed on: a stale answer is not shown (its tokens are wasted)
        if not suggestion.strip():
            self.report.empty += 1
            return
        self.report.shown.append(Shown("naive", latency, len(suggestion), text=suggestion))
        self.on_screen = suggestion


async def lone_requests(url: str, model: str, task: Task, client: httpx.AsyncClient, warm: int = 5) -> dict[str, Any]:
    """The stock server answering the naive client's prompt with nothing else queued: one cold request,
    then `warm` requests one keystroke apart (its prefix cache serves them); milliseconds."""
    text, cursor = task.target, task.start
    times: list[float] = []
    for step in range(warm + 1):
        body = {
            "model": model,
            "prompt": naive_prompt(text, cursor + step),
            "max_tokens": NAIVE_MAX_TOKENS,
            "temperature": 0.0,
            "stop": ["\n"],
        }
        started = time.perf_counter()
        (await client.post(f"{url}/v1/completions", json=body)).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return {"cold_ms": times[0], "warm_ms": percentiles(times[1:]), "debounce_ms": NAIVE_DEBOUNCE_S * 1000}


async def run_naive(
    url: str, model: str, tasks: list[Task], keystrokes: int, seed: int, progress: Progress | None = None
) -> NaiveEditor:
    """The replay against a stock server with the naive client; the client holds the report and counts."""
    report = ReplayReport()
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        editor = NaiveEditor(url, model, report, client)
        editor.lone = await lone_requests(url, model, tasks[0], client)
        for task in tasks:
            if report.keystrokes >= keystrokes:
                break
            await replay_task(editor, task, rng, keystrokes, progress)
        await editor.drain()
    return editor


def naive_prompt(text: str, cursor: int) -> str:
    """The cursor's line up to the cursor, after the `NAIVE_PREFIX_LINES` lines before it."""
    start = text.rfind("\n", 0, cursor) + 1
    for _ in range(NAIVE_PREFIX_LINES):
        if start == 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return text[start:cursor]


def ratio(naive: float | None, ours: float | None) -> float | None:
    return None if naive is None or not ours else naive / ours


def compare(naive: SideReport, ours: SideReport) -> dict[str, Any]:
    left, right = naive.summary(), ours.summary()
    speed = {q: ratio(left["first_action_ms"][q], right["first_action_ms"][q]) for q in ("p50", "p95")}
    # when the naive client shows nothing, its answers' arrival is the latency a user would have waited
    arrival = {q: ratio(left["answer_ms"][q], right["first_action_ms"][q]) for q in ("p50", "p95")}
    lone = left.get("lone") or {}
    floor = lone["warm_ms"]["p50"] + lone["debounce_ms"] if lone else None
    cpu = ratio(left["cpu_seconds_per_shown"], right["cpu_seconds_per_shown"])
    return {
        "naive": left,
        "keystroke": right,
        "speedup": speed,
        "speedup_vs_arrival": arrival,
        "speedup_vs_lone_p50": ratio(floor, right["first_action_ms"]["p50"]),
        "cpu_per_shown_ratio": cpu,
    }


def format_naive(result: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    def num(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = ["keystroke vs naive (stock llama_cpp.server + 150 ms debounce client), same replay and model"]
    rows.append(
        f"  {'set-up':<11}{'keys':>6}{'reqs':>6}{'shown':>7}{'p50 ms':>8}{'p95 ms':>8}{'CPU s':>8}"
        f"{'CPU s/shown':>12}{'decoded':>9}{'wasted':>8}"
    )
    for name in ("naive", "keystroke"):
        part = result[name]
        first = part["first_action_ms"]
        rows.append(
            f"  {name:<11}{part['keystrokes']:>6}{part['requests']:>6}{part['shown']:>7}{ms(first['p50']):>8}"
            f"{ms(first['p95']):>8}{num(part['engine_cpu_seconds'], 1):>8}{num(part['cpu_seconds_per_shown']):>12}"
            f"{part['decoded_tokens']:>9}{part['wasted_decode_tokens']:>8}"
        )
    speed, arrival = result["speedup"], result["speedup_vs_arrival"]
    naive_answers = result["naive"]["answer_ms"]
    rows.append(
        f"  naive answers' arrival after their keystroke (shown or stale): p50 {ms(naive_answers['p50'])} ms, "
        f"p95 {ms(naive_answers['p95'])} ms; stale {result['naive'].get('stale', '-')}, "
        f"empty {result['naive'].get('empty', '-')}"
    )
    rows.append(
        f"  keystroke first action vs naive shown: {num(speed['p50'])}x faster at p50, {num(speed['p95'])}x at p95; "
        f"vs naive answers' arrival: {num(arrival['p50'])}x at p50, {num(arrival['p95'])}x at p95"
    )
    rows.append(f"  naive CPU per shown suggestion / keystroke's: {num(result['cpu_per_shown_ratio'])}x")
    ours = result["keystroke"]
    rows.append(
        f"  keystroke wasted decode tokens: {ours['wasted_decode_tokens_at_least']} to {ours['wasted_decode_tokens']}"
        " (counting, or not, text shown again from the cache or an answer in flight)"
    )
    lone = result["naive"].get("lone") or {}
    if lone:
        rows.append(
            f"  naive floor, a lone request with nothing queued: cold {ms(lone['cold_ms'])} ms, warm p50 "
            f"{ms(lone['warm_ms']['p50'])} ms, plus the {ms(lone['debounce_ms'])} ms debounce; keystroke's p50 "
            f"first action is {num(result['speedup_vs_lone_p50'])}x faster than that"
        )
    return "\n".join(rows)


def tokens_of(shown: list[Shown], count: Callable[[str], int], lanes: tuple[str, ...]) -> int:
    """Tokens of the shown suggestions that came fresh from the model (not re-shown from a cache)."""
    return sum(count(s.text) for s in shown if s.lane in lanes and s.text)


async def usage_of(url: str) -> dict[str, int]:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(f"{url}/v1/usage")
            if answer.status_code == 200:
                return {k: v for k, v in answer.json().items() if isinstance(v, int)}
    return {}
