"""`keystroke bench replay`: simulated users retype real code through the real LSP protocol and a real gateway.

The benchmark is the editor: a pygls client starts `keystroke lsp --gateway URL` (the gateway is a
`keystroke serve` subprocess), opens each task's file with a region blanked, and lets a `Typist` retype it at
human pace. Like VS Code, it sends an incremental didChange per edit, asks for an inline completion after every
one, and cancels the previous request if it is still running. A suggestion is shown when its request was not
cancelled and it is not empty; it is stale if it was computed for another document version or cursor than the
editor has when it arrives (the suggestion's `keystroke.accepted` command says which it was computed for).
The typist accepts a shown suggestion that is exactly what it was about to type.

The product's figures: characters saved per 100 typed (what accepted suggestions inserted, per 100 characters
the typist typed itself), and the share of the typist's decisions at which a correct suggestion (non-blank,
exactly what comes next) was on screen, i.e. had arrived before the next keystroke. `compare_setups` lays
several configurations' reports side by side, with the engine CPU-seconds each spent per shown suggestion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from keystroke.benchmarks.lsp_client import language_server, stats
from keystroke.benchmarks.typist import Action, Task, Typist
from keystroke.domain.editor.edits import text_change
from keystroke.domain.statistics import percentiles

Progress = Callable[[int], None]
log = logging.getLogger(__name__)
PREFETCH_COUNTERS = ("prefetch_started", "prefetch_cancelled", "prefetch_hits", "prefetch_tokens", "prefetch_wasted")


@dataclass
class Shown:
    lane: str
    latency_ms: float  # from the request to the answer, as the editor saw it
    chars: int
    accepted: bool = False
    text: str = ""


@dataclass
class ReplayReport:
    keystrokes: int = 0  # edits sent (typed characters, deletions, pastes, accepted suggestions, undo, redo)
    requests: int = 0
    cancelled_requests: int = 0  # by the editor, because the user typed on
    shown: list[Shown] = field(default_factory=list)
    stale_shown: int = 0
    empty: int = 0
    errors: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    chars_typed: int = 0  # characters the typist typed itself
    chars_saved: int = 0  # characters inserted by accepted suggestions
    decisions: int = 0  # moments the typist acted (each could have been an accept)
    correct_on_screen: int = 0  # of them, with a correct suggestion on screen
    server: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lanes = Counter(s.lane for s in self.shown)
        accepted = [s for s in self.shown if s.accepted]
        server = self.server
        cache_hits = lanes.get("cache", 0)
        return {
            "keystrokes": self.keystrokes,
            "actions": dict(self.actions),
            "requests": self.requests,
            "sent_upstream": server.get("sent", 0),
            "sent_per_keystroke": server.get("sent", 0) / self.keystrokes if self.keystrokes else 0.0,
            "cancelled_generations": server.get("cancelled", 0),
            "superseded_in_debounce": server.get("superseded", 0),
            "stale_dropped_by_server": server.get("stale", 0),
            "stale_shown": self.stale_shown,
            "shown": len(self.shown),
            "cache_hits": cache_hits,
            "cache_hit_share": cache_hits / len(self.shown) if self.shown else 0.0,
            "typed_through": server.get("typed_through", 0),
            "inflight_reused": server.get("inflight_reused", 0),
            "lanes": dict(lanes),
            "latency_ms": {lane: percentiles([s.latency_ms for s in self.shown if s.lane == lane]) for lane in lanes},
            "server_latency_ms": server.get("latency_ms", {}),
            "serving_ms": server.get("serving_ms", {}),
            "accepted": len(accepted),
            "acceptance_rate": len(accepted) / len(self.shown) if self.shown else 0.0,
            "chars_saved": self.chars_saved,
            "chars_saved_share": self.chars_saved / (self.chars_saved + self.chars_typed)
            if self.chars_saved + self.chars_typed
            else 0.0,
            "chars_saved_per_100_typed": 100 * self.chars_saved / self.chars_typed if self.chars_typed else 0.0,
            "correct_on_screen_share": self.correct_on_screen / self.decisions if self.decisions else 0.0,
            "prefetch": {key: server.get(key, 0) for key in PREFETCH_COUNTERS},
            "errors": self.errors,
        }

    def to_json(self) -> dict[str, Any]:
        shown = [{k: v for k, v in asdict(s).items() if k != "text"} for s in self.shown]  # no code in results
        return {"summary": self.summary(), "shown": shown, "server": self.server}


class ReplayEditor:
    """The editor side of the replay: one document at a time, requests in flight, what is on screen."""

    def __init__(self, client: LanguageClient, report: ReplayReport) -> None:
        self.client = client
        self.report = report
        self.uri = ""
        self.version = 0
        self.text = ""
        self.cursor = 0
        self.on_screen: str | None = None  # the suggestion shown at the current state
        self._on_screen_command: types.Command | None = None  # what the editor runs when it is accepted
        self._pending: tuple[str, asyncio.Future[Any]] | None = None
        self._sequence = 0
        self._receiving: set[asyncio.Task[None]] = set()
        self._cancelled: set[str] = set()

    def open(self, uri: str, text: str, cursor: int) -> None:
        self.uri, self.version, self.text, self.cursor, self.on_screen = uri, 1, text, cursor, None
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))

    def close(self) -> None:
        self._cancel_pending()
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=self.uri))
        )

    def apply(self, action: Action) -> None:
        """Send the action's edit (if the text changed), cancel the previous request, and ask for a suggestion
        at the new cursor (the order VS Code uses: the change first, then the cancellation)."""
        command, self.on_screen, self._on_screen_command = self._on_screen_command, None, None
        if action.text != self.text:
            self._send_change(action.text)
        if action.kind == "accept" and command is not None:  # as VS Code does after inserting the text
            params = types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
            self.client.protocol.send_request("workspace/executeCommand", params)
        self._cancel_pending()
        self.cursor = action.cursor
        self._ask()

    def _send_change(self, text: str) -> None:
        edit = text_change(self.text, text)
        self.version += 1
        end = edit.start + len(edit.removed)
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=_position(self.text, edit.start), end=_position(self.text, end)),
            text=edit.inserted,
        )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[change],
            )
        )
        self.text = text
        self.report.keystrokes += 1

    def _ask(self) -> None:
        self._sequence += 1
        msg_id = f"inline-{self._sequence}"
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=_position(self.text, self.cursor),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
        future = asyncio.wrap_future(
            self.client.protocol.send_request("textDocument/inlineCompletion", params, msg_id=msg_id)
        )
        self.report.requests += 1
        self._pending = (msg_id, future)
        receiving = asyncio.ensure_future(self._receive(msg_id, future, time.perf_counter(), self.version, self.cursor))
        self._receiving.add(receiving)
        receiving.add_done_callback(self._receiving.discard)

    async def _receive(self, msg_id: str, future: asyncio.Future[Any], sent: float, version: int, cursor: int) -> None:
        try:
            result = await future
        except Exception as exc:
            if msg_id not in self._cancelled:
                self.report.errors += 1
                log.warning("request %s failed: %s", msg_id, exc)
            return
        if msg_id in self._cancelled:
            return  # the editor cancelled it: whatever comes back is not shown
        latency = (time.perf_counter() - sent) * 1000
        if self._pending is not None and self._pending[1] is future:
            self._pending = None
        items = list(getattr(result, "items", None) or [])
        if not items or not items[0].insert_text:
            self.report.empty += 1
            return
        item = items[0]
        computed_for = item.command.arguments[0] if item.command and item.command.arguments else {}
        current = (self.version, list(_position_tuple(self.text, self.cursor)))
        if (computed_for.get("version"), computed_for.get("position")) != current or (version, cursor) != (
            self.version,
            self.cursor,
        ):
            self.report.stale_shown += 1
        lane = str(computed_for.get("lane", "?"))
        self.report.shown.append(Shown(lane, latency, len(item.insert_text), text=item.insert_text))
        self.on_screen, self._on_screen_command = item.insert_text, item.command

    def _cancel_pending(self) -> None:
        if self._pending is None:
            return
        msg_id, future = self._pending
        self._pending = None
        if not future.done():
            self.client.protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))
            self._cancelled.add(msg_id)  # its answer, or its cancellation error, is ignored when it comes
            self.report.cancelled_requests += 1


async def run_replay(
    gateway_url: str,
    root: Path,
    tasks: list[Task],
    keystrokes: int,
    seed: int,
    progress: Progress | None = None,
    server_log: Path | None = None,
    config: Path | None = None,
) -> ReplayReport:
    """Replay `tasks` through a language server against the gateway at `gateway_url`; `config`: the language
    server's configuration file (its [editor] section: prefetch, debounce, ...)."""
    report = ReplayReport()
    rng = random.Random(seed)
    args = ["--gateway", gateway_url] + (["--log-level", "debug"] if server_log is not None else [])
    args += ["--config", str(config)] if config is not None else []
    with open(server_log, "w") if server_log is not None else contextlib.nullcontext() as sink:
        write = (lambda line: print(line, file=sink)) if sink is not None else None
        async with language_server(args, root, on_stderr=write, warm_s=1.0) as client:
            editor = ReplayEditor(client, report)
            for task in tasks:
                if report.keystrokes >= keystrokes:
                    break
                await replay_task(editor, task, rng, keystrokes, progress)
            await asyncio.sleep(0.5)  # let the last answers land before reading the counters
            report.server = await stats(client)
    return report


async def replay_task(editor: Any, task: Task, rng: random.Random, keystrokes: int, progress: Progress | None) -> None:
    """One task retyped through `editor` (a ReplayEditor, or any client with its open, apply, close,
    on_screen and report)."""
    typist = Typist(task, rng)
    editor.open(Path(task.path).resolve().as_uri(), typist.text, typist.cursor)
    report = editor.report
    try:
        while report.keystrokes < keystrokes:
            await asyncio.sleep(typist.delay)
            before = report.keystrokes
            shown = editor.on_screen
            report.decisions += 1
            report.correct_on_screen += typist.would_accept(shown)
            action = typist.step(shown)
            if action is None:
                break
            report.actions[action.kind] += 1
            if action.kind == "accept":
                report.shown[-1].accepted = True
                report.chars_saved += len(shown or "")
            elif action.kind == "type":
                report.chars_typed += 1
            editor.apply(action)
            if progress is not None and report.keystrokes > before:
                progress(report.keystrokes - before)
    finally:
        editor.close()


def _position_tuple(text: str, offset: int) -> tuple[int, int]:
    """(line, UTF-16 column) of a code-point offset, as LSP counts positions."""
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return line, len(text[line_start:offset].encode("utf-16-le")) // 2


def _position(text: str, offset: int) -> types.Position:
    line, character = _position_tuple(text, offset)
    return types.Position(line=line, character=character)


def format_replay(summary: dict[str, Any]) -> str:
    rows = [
        f"typing replay: {summary['keystrokes']} keystrokes, {summary['requests']} requests, "
        f"{summary['shown']} suggestions shown",
        f"  stale suggestions shown       {summary['stale_shown']}",
        f"  late answers dropped (server) {summary['stale_dropped_by_server']}",
        f"  sent upstream per keystroke   {summary['sent_per_keystroke']:.2f} ({summary['sent_upstream']} sent)",
        f"  cancelled generations         {summary['cancelled_generations']}",
        f"  superseded while debouncing   {summary['superseded_in_debounce']}",
        f"  cache hits                    {summary['cache_hits']} ({summary['cache_hit_share']:.0%} of shown; "
        f"{summary['typed_through']} typed through)",
        f"  in-flight reused              {summary['inflight_reused']}",
        f"  accepted                      {summary['accepted']} ({summary['acceptance_rate']:.0%} of shown), "
        f"{summary['chars_saved']} characters saved ({summary['chars_saved_share']:.0%})",
        "",
        f"  {'lane':10}{'shown':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}   server p50 / p95 / p99 (no debounce)",
    ]
    for lane, count in sorted(summary["lanes"].items(), key=lambda pair: -pair[1]):
        client = summary["latency_ms"].get(lane, {})
        server = summary["server_latency_ms"].get(lane, {})
        rows.append(
            f"  {lane:10}{count:7d}{_ms(client.get('p50')):>9}{_ms(client.get('p95')):>9}{_ms(client.get('p99')):>9}"
            f"   {_ms(server.get('p50')):>10} / {_ms(server.get('p95'))} / {_ms(server.get('p99'))}"
        )
    serving = summary["serving_ms"]
    rows.append(
        f"  floor: the gateway's own first action per remote answer, p50 {_ms(serving.get('p50'))} / "
        f"p95 {_ms(serving.get('p95'))} ms"
    )
    return "\n".join(rows)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@dataclass
class SetupResult:
    """One configuration's replay: its label, its report's summary, the gateway's CPU-seconds over it."""

    label: str
    summary: dict[str, Any]
    cpu_seconds: float

    def cpu_per_shown(self) -> float | None:
        shown = self.summary["shown"]
        return self.cpu_seconds / shown if shown else None


def format_setups(results: list[SetupResult]) -> str:
    """The configurations side by side: the product's figures first, then latency per model lane."""
    head = (
        f"  {'setup':<22}{'saved/100':>10}{'correct':>9}{'accepted':>9}{'shown':>7}{'stale':>6}"
        f"{'inline p50/p95':>16}{'multi p50/p95':>15}{'prefetch hit/waste':>20}{'CPU-s/shown':>12}"
    )
    rows = ["setups side by side (same tasks, same typists)", head]
    for result in results:
        s = result.summary
        lanes = s["latency_ms"]
        prefetch = f"{s['prefetch']['prefetch_hits']} / {s['prefetch']['prefetch_wasted']} tok"
        cpu = result.cpu_per_shown()
        rows.append(
            f"  {result.label:<22}{s['chars_saved_per_100_typed']:>10.1f}{s['correct_on_screen_share']:>9.1%}"
            f"{s['accepted']:>9}{s['shown']:>7}{s['stale_shown']:>6}{_pair(lanes.get('inline')):>16}"
            f"{_pair(lanes.get('multiline')):>15}{prefetch:>20}{'-' if cpu is None else f'{cpu:.2f}':>12}"
        )
    rows.append(
        "  saved/100: characters inserted by accepted suggestions per 100 typed; correct: share of the typist's "
        "decisions with a correct suggestion on screen; latency in ms from the request to the answer (editor's view)"
    )
    return "\n".join(rows)


def _pair(percentiles_ms: dict[str, float | None] | None) -> str:
    if not percentiles_ms:
        return "-"
    return f"{_ms(percentiles_ms.get('p50'))} / {_ms(percentiles_ms.get('p95'))}"
