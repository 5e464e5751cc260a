"""A workspace for embedded single-user mode: its index, built on open, and a watcher that keeps it current.

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
from keystroke.domain.context.index import Progress, RepositoryIndex
from keystroke.domain.context.recent import RecentEdits
from keystroke.errors import ConfigError
from keystroke.services.context import exclusion_rules


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
