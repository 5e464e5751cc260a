"""The local semantic lane: completions computed on the user's machine, in milliseconds, with no upload.

Three sources, in this order:
- Jedi for Python: the members after `.`, names in scope, call signatures (exact, from the code's own
  analysis); warmed at start by loading the modules most code uses, so the first answer is not the slowest;
- words of the open buffers, for any language, starting with the partly typed word;
- a typo fix: when the word before the cursor is no known word but is one edit away from one
  (`pritn` -> `print`), the known word, replacing what was typed.

It answers on its own when the route says so (mid-expression), and whenever the gateway is slow, down, or the
file may not be uploaded. Jedi runs in one worker process (it is not thread-safe, and being pure Python, in a
thread it would take the GIL from the event loop that answers the editor). It reads the file's imports and the
150 lines up to the cursor (not the whole file: parsing time grows with the text), and its answer is waited
for 35 ms at most: a slower call (Jedi infers afresh on every call, 100-500 ms for members of a class typed
with annotations) finishes in the background while the buffer words answer, so the lane's latency stays
bounded.

Jedi is asked for everything at the start of the word being typed (after `self.`, not after `self.co`), and
its whole answer is kept, keyed by exactly the source it read. Typing the member's name does not change that
source, so from the second keystroke on (or the first after a slow call finished) the answer is the kept
list filtered by what is typed: no Jedi call at all.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import keyword
import logging
import multiprocessing
import re
from collections import Counter, OrderedDict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Literal

from keystroke.domain.editor.words import complete_word, near_miss, partial_word, words_of

log = logging.getLogger(__name__)

WARM_MODULES = ("builtins", "os", "sys", "re", "json", "typing", "pathlib", "collections", "dataclasses")
MAX_ITEMS = 30
MAX_NAMES = 2000  # of one Jedi answer, kept for filtering as the word is typed
WINDOW_LINES = 150
_IMPORT = re.compile(r"^(?:import\s|from\s+\S+\s+import\s)")
LocalSource = Literal["jedi", "words", "typo"]
_PYTHON_WORDS = tuple(sorted(set(dir(builtins)) | set(keyword.kwlist)))  # sorted once: typo-fix candidates


@dataclass(frozen=True)
class LocalItem:
    label: str  # the whole word or member
    insert: str  # what to insert at the cursor after removing `replace` characters before it
    replace: int  # characters before the cursor the insertion replaces (0: it only adds)
    kind: str  # "function", "class", "module", "keyword", "statement", "word", ...
    source: LocalSource
    detail: str = ""


@dataclass(frozen=True)
class LocalQuery:
    text: str  # the whole document
    line: int  # 0-based
    column: int  # 0-based, in code points
    language: str | None
    path: str | None = None
    others: tuple[str, ...] = ()  # the texts of the other open documents


@dataclass(frozen=True)
class JediCall:
    """What Jedi reads for one cursor: `source` (the window, cut at the start of the word being typed) and
    the place to complete at, its end. Equal calls get equal answers, so the call is the cache key."""

    source: str
    line: int  # 1-based, as Jedi counts
    column: int
    path: str | None


class LocalLane:
    def __init__(self, jedi_budget_ms: float = 35.0, kept: int = 64) -> None:
        # A process, not a thread: Jedi is pure Python, and in a thread it would hold the GIL away from the
        # event loop that answers the editor. Spawned, so nothing of this process (llama.cpp, sockets) is copied.
        self._worker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._running: asyncio.Future[list[JediName]] | None = None
        self._answers: OrderedDict[JediCall, list[JediName]] = OrderedDict()  # Jedi's whole lists, LRU
        self._kept = kept
        self.jedi_budget_ms = jedi_budget_ms
        self.jedi_calls = 0
        self.jedi_kept = 0  # answers served from a kept list, without a call
        self.jedi_late = 0  # calls that missed their budget (their names were kept for the next keystroke)
        self.warm = False

    async def warm_up(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._worker, _warm)
        self.warm = True

    async def complete(self, query: LocalQuery) -> list[LocalItem]:
        """Jedi's items if they are kept or come within `jedi_budget_ms`, with the buffer words and typo fix.
        A slow Jedi call is not waited for, and while it runs no other is started: the words answer alone,
        so the lane's latency stays bounded; its answer is kept when it comes."""
        partial = partial_word(_line(query.text, query.line)[: query.column])
        items: list[LocalItem] = []
        if query.language == "python":
            call = jedi_call(query, partial)
            names = self._answers.get(call)
            if names is not None:
                self._answers.move_to_end(call)
                self.jedi_kept += 1
            else:
                names = await self._call(call)
            items = jedi_items(names or [], partial)
        return with_words(items, query, partial)

    async def _call(self, call: JediCall) -> list[JediName] | None:
        if self._running is not None and not self._running.done():
            return None
        running = asyncio.get_running_loop().run_in_executor(self._worker, _jedi_names, call)
        self._running = running
        self.jedi_calls += 1
        running.add_done_callback(lambda done: self._keep(call, done))
        try:
            return await asyncio.wait_for(asyncio.shield(running), self.jedi_budget_ms / 1000)
        except TimeoutError:
            self.jedi_late += 1
            return None

    async def settled(self) -> None:
        """Wait for the Jedi call running in the background, if any (its answer is then kept)."""
        if self._running is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._running)

    def _keep(self, call: JediCall, done: asyncio.Future[list[JediName]]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        self._answers[call] = done.result()
        self._answers.move_to_end(call)
        while len(self._answers) > self._kept:
            self._answers.popitem(last=False)

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


def complete_locally(query: LocalQuery) -> list[LocalItem]:
    """Jedi's items (Python), then buffer words not already offered, or else a typo fix (synchronous, no
    budget: what the lane computes when Jedi is quick)."""
    partial = partial_word(_line(query.text, query.line)[: query.column])
    items = jedi_items(_jedi_names(jedi_call(query, partial)), partial) if query.language == "python" else []
    return with_words(items, query, partial)


def with_words(items: list[LocalItem], query: LocalQuery, partial: str) -> list[LocalItem]:
    """`items`, then the buffer words starting with `partial` not already offered; a typo fix if nothing."""
    items = list(items)
    vocabulary = words_of([query.text, *query.others])
    vocabulary[partial] -= 1  # the word being typed is not evidence for itself
    offered = {item.label for item in items}
    for word in complete_word(partial, +vocabulary):
        if word not in offered:
            items.append(LocalItem(word, word[len(partial) :], 0, "word", "words"))
    if not items and partial:
        fix = _typo_fix(partial, +vocabulary, query.language == "python")
        if fix is not None:
            items.append(LocalItem(fix, fix, len(partial), "word", "typo", f"{partial} -> {fix}"))
    return items[:MAX_ITEMS]


def _typo_fix(partial: str, vocabulary: Counter[str], python: bool) -> str | None:
    """The known word `partial` most likely meant: the language's own words first, then the buffers' by
    frequency."""
    known = [word for word, _ in vocabulary.most_common()]
    if python:
        known = [*_PYTHON_WORDS, *known]
    return near_miss(partial, known)


JediName = tuple[str, str]  # (name, type) of one completion


def jedi_call(query: LocalQuery, partial: str) -> JediCall:
    """The Jedi call for the cursor: the window up to the start of the partly typed word."""
    source, line = jedi_window(query.text, query.line)
    lines = source.split("\n")
    anchor = max(0, query.column - len(partial))
    lines[line] = lines[line][:anchor]
    return JediCall("\n".join(lines[: line + 1]), line + 1, anchor, query.path)


def _jedi_names(call: JediCall) -> list[JediName]:
    import jedi

    try:
        completions = jedi.Script(call.source, path=call.path).complete(call.line, call.column)
    except Exception as exc:  # Jedi fails on some half-typed code; the other sources still answer
        # the type only: a traceback or message may quote the source, and logs hold no code
        log.debug("jedi could not complete at %d:%d (%s)", call.line, call.column, type(exc).__name__)
        return []
    return [(completion.name, completion.type) for completion in completions[:MAX_NAMES]]


def jedi_items(names: list[JediName], partial: str) -> list[LocalItem]:
    """Jedi's names that start with `partial`, in Jedi's order; dunders only when `_` is typed."""
    items = []
    for name, kind in names:
        if not name.startswith(partial) or (name.startswith("__") and not partial.startswith("_")):
            continue
        items.append(LocalItem(name, name[len(partial) :], 0, kind, "jedi"))
        if len(items) == MAX_ITEMS:
            break
    return items


def jedi_window(text: str, line: int, before: int = WINDOW_LINES) -> tuple[str, int]:
    """What Jedi reads: the file's import statements above the window, then the `before` lines up to the
    cursor's line (parsing cost grows with the text; names in scope come from the imports and the code
    around). Returns the source and the cursor's line in it."""
    lines = text.split("\n")
    start = max(0, line - before)
    head: list[str] = []
    inside = False  # within a parenthesized import
    for above in lines[:start]:
        if inside or _IMPORT.match(above):
            head.append(above)
            inside = (inside or "(" in above) and ")" not in above
    return "\n".join(head + lines[start : line + 1]), len(head) + line - start


def _warm() -> None:
    import jedi

    jedi.preload_module(*WARM_MODULES)
    jedi.Script("import os\nos.path.jo", path=None).complete(2, 10)


def _line(text: str, number: int) -> str:
    lines = text.split("\n")
    return lines[number] if 0 <= number < len(lines) else ""
