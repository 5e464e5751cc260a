"""A workspace: one indexed folder and everything that serves context from it, opened and closed as one.

`Workspace` holds the index (and its SQLite cache), the context service over it and, when asked, the watcher
that keeps it current; `close()` ends all three. The gateway (`keystroke serve --workspace`, for the tenant
that owns it) and the language server (its editor's root) both use it.

`open_workspace` builds (or, from the cache, reloads) the index with a progress callback. `Watcher` follows
file changes with watchfiles on a daemon thread: each batch of changes updates the index incrementally and
marks where the file changed as a recent edit. `SnippetRefresher` rebuilds the snippet index off the hot
path when files changed since it was built, at most once per `interval` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from keystroke.config import Settings
from keystroke.domain.context.engine import ContextEngine, SourceBudgets
from keystroke.domain.context.index import Progress, RepositoryIndex
from keystroke.domain.context.recent import RecentEdits
from keystroke.domain.engines.base import Tokenizer
from keystroke.errors import ConfigError
from keystroke.services.context import ContextService, exclusion_rules

Clock = Callable[[], float]


class Workspace:
    """An index, the context service over it, and maybe a watcher. Build it with `open` (index the folder)
    or `over` (an index already built); `close()` stops the watcher, the context sources' threads and, if this
    workspace opened the index, its store."""

    def __init__(
        self, index: RepositoryIndex, context: ContextService, watcher: Watcher | None = None, *, owns_index: bool
    ) -> None:
        self.index = index
        self.context = context
        self.watcher = watcher
        self._owns_index = owns_index

    @classmethod
    def open(
        cls,
        settings: Settings,
        tokenizer: Tokenizer,
        *,
        root: Path | None = None,
        progress: Progress | None = None,
        max_files: int | None = None,
    ) -> Workspace:
        """Index `root` (default: `context.workspace`), reloading what the cache holds; follow its files if
        `context.watch`. ConfigError for a missing folder or one with more than `max_files` files."""
        index = open_workspace(settings, progress, root, max_files)
        try:
            return cls.over(index, tokenizer, settings, watch=settings.context.watch, owns_index=True)
        except BaseException:
            index.close()
            raise

    @classmethod
    def over(
        cls,
        index: RepositoryIndex,
        tokenizer: Tokenizer,
        settings: Settings,
        *,
        clock: Clock = time.monotonic,
        watch: bool = False,
        owns_index: bool = False,
    ) -> Workspace:
        """The context service over a built `index` (measuring typing pace on `clock`)."""
        options = settings.context
        budgets = SourceBudgets(
            options.definitions_ms, options.recent_edits_ms, options.neighbours_ms, options.retrieval_ms
        )
        engine = ContextEngine(index, recent=RecentEdits(clock=clock), budgets=budgets, enabled=options.sources)
        context = ContextService(engine, tokenizer, settings, clock=clock, refresher=SnippetRefresher(index))
        watcher = Watcher(index, engine.recent).start() if watch else None
        return cls(index, context, watcher, owns_index=owns_index)

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.context.close()
        if self._owns_index:
            self.index.close()


def open_workspace(
    settings: Settings, progress: Progress | None = None, root: Path | None = None, max_files: int | None = None
) -> RepositoryIndex:
    folder = root or settings.context.workspace
    if folder is None:
        raise ConfigError("no workspace given: pass a folder, or set context.workspace")
    if not folder.is_dir():
        raise ConfigError(f"workspace {folder} is not a folder")
    index = RepositoryIndex(folder, exclusion_rules(settings), settings.context.cache_dir)
    index.build(progress, max_files)
    return index


class Watcher:
    """Updates the index on file changes; `stop()` ends the thread within about a second."""

    def __init__(self, index: RepositoryIndex, recent: RecentEdits | None = None, debounce_ms: int = 200) -> None:
        self.index = index
        self.recent = recent
        self.batches = 0
        self._debounce = debounce_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="keystroke-watcher", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from watchfiles import watch

        root = self.index.root
        for changes in watch(root, stop_event=self._stop, debounce=self._debounce, raise_interrupt=False):
            relpaths = sorted({Path(path).relative_to(root).as_posix() for _, path in changes if _inside(root, path)})
            if relpaths:
                self.apply(relpaths)

    def apply(self, relpaths: list[str]) -> None:
        before = {path: self.index.cached_lines(path) for path in relpaths}
        self.index.update(relpaths)
        self.batches += 1
        if self.recent is None:
            return
        for path in relpaths:
            after, previous = self.index.lines(path), before[path]
            if after is not None and previous is not None:  # where it changed is only known with the old text
                self.recent.touch(path, _first_difference(previous, after))


class SnippetRefresher:
    """Rebuilds a stale snippet index on a background thread, one rebuild at a time."""

    def __init__(self, index: RepositoryIndex, interval: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.index = index
        self.interval = interval
        self._clock = clock
        self._last = clock()
        self._running = threading.Lock()

    def maybe_refresh(self) -> bool:
        """Start a rebuild if files changed since the last one and none is running; whether one started."""
        snippets = self.index.snippets
        if snippets is None or not snippets.stale or self._clock() - self._last < self.interval:
            return False
        if not self._running.acquire(blocking=False):
            return False
        self._last = self._clock()
        threading.Thread(target=self._rebuild, name="keystroke-snippets", daemon=True).start()
        return True

    def _rebuild(self) -> None:
        try:
            self.index.rebuild_snippets()
        finally:
            self._running.release()


def _inside(root: Path, path: str) -> bool:
    try:
        Path(path).relative_to(root)
    except ValueError:
        return False
    return True


def _first_difference(before: list[str], after: list[str]) -> int:
    for line, (old, new) in enumerate(zip(before, after, strict=False)):
        if old != new:
            return line
    return min(len(before), len(after))
