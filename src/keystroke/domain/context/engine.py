"""The context engine: run the sources a depth calls for, each within its time budget, and rank what they find.

Sources run side by side on a small thread pool; the engine waits for each only until that source's deadline
(measured from the start of the collection) and skips a late one rather than wait for it: its work finishes
in the background and is dropped. What it returns is every item found, in priority order; filling the token
budget is the caller's, who knows the tokenizer.

Depth decides what runs (see `typing_rate`): LIGHT reuses the previous collection for the same file as it is;
REFRESH runs the searches again (definitions, retrieval) and keeps the rest; FULL runs every source and
prefetches the related files' identifier windows so the next collection finds them warm.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from tree_sitter import Tree

from keystroke.domain.context import sources
from keystroke.domain.context.active import ActiveFiles
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.items import PRIORITY, ContextItem, SourceName, SourceReport
from keystroke.domain.context.parsing import Import, code_names
from keystroke.domain.context.recent import RecentEdits
from keystroke.domain.context.typing_rate import Depth

Clock = Callable[[], float]
SourceFunction = Callable[[sources.Query], list[ContextItem]]

REFRESHED: frozenset[SourceName] = frozenset({"definitions", "retrieval"})


@dataclass(frozen=True)
class SourceBudgets:
    """Milliseconds from the start of a collection by which each source must have answered."""

    definitions: float = 10.0
    recent_edits: float = 10.0
    neighbours: float = 12.0
    retrieval: float = 12.0

    def of(self, source: SourceName) -> float:
        return float(getattr(self, source))


@dataclass(frozen=True)
class ContextRequest:
    filepath: str  # relative to the workspace
    prefix: str
    suffix: str
    language: str | None = None
    open_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    filepath: str
    depth: Depth
    items: tuple[ContextItem, ...]
    reports: tuple[SourceReport, ...] = ()
    ms: float = 0.0
    by_source: dict[SourceName, tuple[ContextItem, ...]] = field(default_factory=dict)


class ContextEngine:
    def __init__(
        self,
        index: RepositoryIndex,
        *,
        recent: RecentEdits | None = None,
        active: ActiveFiles | None = None,
        budgets: SourceBudgets | None = None,
        clock: Clock = time.perf_counter,
        threads: int = 4,
        overrides: Mapping[SourceName, SourceFunction] | None = None,
        enabled: Iterable[SourceName] = PRIORITY,
    ) -> None:
        """`overrides` replaces sources by name: for fault injection (a stalling or failing source)."""
        self.index = index
        self.recent = recent or RecentEdits()
        self.active = active or ActiveFiles()
        self.budgets = budgets or SourceBudgets()
        self._clock = clock
        self._sources: dict[SourceName, SourceFunction] = {
            "definitions": lambda query: sources.definitions(index, query),
            "recent_edits": lambda query: sources.recent_edits(index, self.recent, query),
            "neighbours": lambda query: sources.neighbours(index, query),
            "retrieval": lambda query: sources.retrieval(index, query),
            **(overrides or {}),
        }
        self.enabled = frozenset(enabled)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="keystroke-context")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def collect(self, request: ContextRequest, depth: Depth, previous: Collection | None = None) -> Collection:
        started = self._clock()
        if previous is not None and previous.filepath != request.filepath:
            previous = None
        if depth == Depth.LIGHT and previous is not None:
            return Collection(request.filepath, depth, previous.items, (), 0.0, previous.by_source)
        run = (set(PRIORITY) if depth == Depth.FULL or previous is None else set(REFRESHED)) & self.enabled
        query = self._query(request)
        futures = {name: self._pool.submit(self._timed, name, query) for name in PRIORITY if name in run}
        found: dict[SourceName, tuple[ContextItem, ...]] = dict(previous.by_source) if previous else {}
        reports = [self._await(name, future, started, found) for name, future in futures.items()]
        if depth == Depth.FULL:
            self._pool.submit(self._prefetch, query)
        items = tuple(item for name in PRIORITY for item in found.get(name, ()))
        return Collection(request.filepath, depth, items, tuple(reports), self._ms(started), found)

    def _query(self, request: ContextRequest) -> sources.Query:
        imports: tuple[Import, ...] = ()
        near: tuple[str, ...] | None = None
        if request.language:
            active = self.active.update(request.filepath, request.prefix + request.suffix, request.language)
            imports = active.imports
            if active.tree is not None:
                near = _near_names(active.tree, request)
        return sources.Query(request.filepath, request.prefix, request.suffix, imports, request.open_files, near)

    def _timed(self, name: SourceName, query: sources.Query) -> tuple[list[ContextItem], float]:
        """Run one source; its items and its own run time in milliseconds."""
        began = self._clock()
        items = self._sources[name](query)
        return items, self._ms(began)

    def _await(
        self,
        name: SourceName,
        future: Future[tuple[list[ContextItem], float]],
        started: float,
        found: dict[SourceName, tuple[ContextItem, ...]],
    ) -> SourceReport:
        remaining = self.budgets.of(name) / 1000 - (self._clock() - started)
        try:
            items, ms = future.result(timeout=max(0.0, remaining))
        except FutureTimeout:
            future.cancel()
            found.pop(name, None)
            return SourceReport(name, self._ms(started), 0, "timeout")
        except Exception:  # a broken source costs its items, never the completion
            found.pop(name, None)
            return SourceReport(name, self._ms(started), 0, "error")
        found[name] = tuple(items)
        return SourceReport(name, ms, len(items), "ok")

    def _prefetch(self, query: sources.Query) -> None:
        for path in sources.related_files(self.index, query):
            self.index.identifiers(path)
            self.index.window_identifiers(path, sources.NEIGHBOUR_WINDOW)

    def _ms(self, started: float) -> float:
        return (self._clock() - started) * 1000


def _near_names(tree: Tree, request: ContextRequest) -> tuple[str, ...]:
    """Code identifiers of the local window, nearest the cursor first (before it, then after it)."""
    assert request.language is not None
    before = "\n".join(request.prefix.rsplit("\n", sources.LOCAL_BEFORE)[-sources.LOCAL_BEFORE :])
    after = "\n".join(request.suffix.split("\n", sources.LOCAL_AFTER)[: sources.LOCAL_AFTER])
    cursor = len(request.prefix.encode("utf-8"))
    start, end = cursor - len(before.encode("utf-8")), cursor + len(after.encode("utf-8"))
    earlier = code_names(tree, request.language, start, cursor)
    later = code_names(tree, request.language, cursor, end)
    return tuple(dict.fromkeys([*reversed(earlier), *later]))
