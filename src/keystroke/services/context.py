"""The context service: per session, how deep to look, what was found, and the snippets that fit the budget.

The completion service asks it for a request's snippets. Editor-provided snippets are used as given, minus
any from an excluded path. Without them, and when a workspace is indexed, the service maps the request's
file into the workspace, lets the typing model pick a depth, asks the context engine, and fills the
context budget with the model's own tokenizer. Between pauses the same snippets are returned unchanged,
so consecutive prompts share their whole context and the KV cache stays warm.

Thread-safety: one lock around the session table and the collection; a collection is short (each source has
a deadline). Sessions are bounded (`MAX_SESSIONS`, least recently used dropped).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from keystroke.config import ContextSettings, Settings
from keystroke.domain.context.budget import fill
from keystroke.domain.context.cache import LruCache
from keystroke.domain.context.engine import Collection, ContextEngine, ContextRequest
from keystroke.domain.context.items import ContextItem, SourceReport
from keystroke.domain.context.languages import language_of
from keystroke.domain.context.parsing import identifiers_in
from keystroke.domain.context.typing_rate import Depth, Thresholds, TypingModel
from keystroke.domain.engines.base import Tokenizer
from keystroke.domain.privacy.exclusion import ExclusionRules
from keystroke.domain.prompt.assembly import Snippet, render_block, render_header


class Refresher(Protocol):
    def maybe_refresh(self) -> bool: ...


Clock = Callable[[], float]
MAX_SESSIONS = 256
OPEN_FILES = 8


@dataclass(frozen=True)
class ContextOutcome:
    snippets: tuple[Snippet, ...]
    depth: Depth | None = None  # None: editor-provided or no workspace
    reports: tuple[SourceReport, ...] = ()
    ms: float = 0.0


@dataclass
class _Session:
    typing: TypingModel
    filepath: str = ""
    text_length: int = 0
    collection: Collection | None = None
    snippets: tuple[Snippet, ...] = field(default_factory=tuple)


def exclusion_rules(settings: Settings, policy: Sequence[str] = ()) -> ExclusionRules:
    """The default rules plus the configured globs, the organisation's policy and a gateway's `policy`."""
    extra = (*settings.context.exclude, *settings.privacy.policy_exclude, *policy)
    return ExclusionRules(extra_patterns=extra, max_bytes=settings.context.max_file_bytes)


def allowed_snippets(snippets: Sequence[Snippet], rules: ExclusionRules) -> tuple[Snippet, ...]:
    """Editor-provided snippets, minus those from a path the exclusion rules keep out of every prompt."""
    return tuple(s for s in snippets if not rules.excludes_named(s.filepath))


class ContextService:
    def __init__(
        self,
        engine: ContextEngine,
        tokenizer: Tokenizer,
        settings: Settings,
        *,
        clock: Clock = time.monotonic,
        refresher: Refresher | None = None,
    ) -> None:
        self.engine = engine
        self.refresher = refresher
        self.tokenizer = tokenizer
        self.settings = settings
        self._clock = clock
        self._thresholds = typing_thresholds(settings.context)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._open: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        # rendered block -> its tokens with this service's tokenizer; snippets recur from pause to pause
        self._costs: LruCache[str, int] = LruCache("context block costs", 1024)

    def close(self) -> None:
        self.engine.close()

    def forget(self) -> None:
        """Drop every session, the open-file list and the recent edits (a fresh editor, as an evaluation wants)."""
        with self._lock:
            self._sessions.clear()
            self._open.clear()
            self.engine.recent.clear()

    def relative(self, filepath: str | None) -> str | None:
        """The request's file as a workspace path, or None when it is not inside the workspace."""
        if not filepath:
            return None
        path = Path(filepath)
        root = self.engine.index.root
        if path.is_absolute():
            try:
                return path.resolve().relative_to(root).as_posix()
            except ValueError:
                return None
        relative = PurePosixPath(filepath.replace("\\", "/"))
        return None if ".." in relative.parts else relative.as_posix()

    def snippets_for(
        self,
        *,
        filepath: str | None,
        prefix: str,
        suffix: str,
        language: str | None,
        session_id: str | None,
        depth: Depth | None = None,
    ) -> ContextOutcome:
        """The snippets for a cursor. `depth`: how deep to look, when the caller knows the user's pace (the
        language server, from keystrokes); else it is inferred from the pace of this session's requests."""
        relpath = self.relative(filepath)
        if relpath is None:
            return ContextOutcome(())
        language = language or language_of(relpath)
        with self._lock:
            return self._collect(relpath, prefix, suffix, language, session_id or relpath, depth)

    def _collect(
        self, relpath: str, prefix: str, suffix: str, language: str | None, key: str, depth: Depth | None
    ) -> ContextOutcome:
        session = self._session(key)
        length = len(prefix) + len(suffix)
        if depth is None:
            depth = session.typing.observe(length - session.text_length if session.filepath == relpath else 0)
        if session.filepath != relpath:
            depth = Depth.FULL
        session.filepath, session.text_length = relpath, length
        self.engine.recent.touch(relpath, prefix.count("\n"))
        open_files = tuple(path for path in reversed(self._open) if path != relpath)
        self._remember_open(relpath)
        request = ContextRequest(relpath, prefix, suffix, language, open_files)
        collection = self.engine.collect(request, depth, session.collection)
        if depth == Depth.FULL and self.refresher is not None:
            self.refresher.maybe_refresh()  # the user paused: a good moment to re-cut a stale snippet index
        if collection is not session.collection and collection.reports:
            session.collection = collection
            session.snippets = self._fit(collection.items, language, relpath, prefix, suffix)
        return ContextOutcome(session.snippets, depth, collection.reports, collection.ms)

    def _fit(
        self, items: Sequence[ContextItem], language: str | None, relpath: str, prefix: str, suffix: str
    ) -> tuple[Snippet, ...]:
        budget = self.settings.prompt.context_tokens
        budget -= self.tokenizer.count_tokens(render_header(language, relpath))
        local = identifiers_in(prefix[-4000:] + suffix[:1000])

        def cost(item: ContextItem) -> int:
            block = render_block(language, item.filepath, item.body)
            return self._costs.get_or_compute(block, lambda: self.tokenizer.count_tokens(block))

        return tuple(Snippet(item.filepath, item.body) for item in fill(items, budget, cost, local))

    def _session(self, key: str) -> _Session:
        session = self._sessions.pop(key, None) or _Session(TypingModel(self._thresholds, self._clock))
        self._sessions[key] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def _remember_open(self, relpath: str) -> None:
        self._open.pop(relpath, None)
        self._open[relpath] = None
        while len(self._open) > OPEN_FILES:
            self._open.popitem(last=False)


def typing_thresholds(options: ContextSettings) -> Thresholds:
    """The configured pace thresholds of context depth (`typing_rate.py`)."""
    return Thresholds(options.fast_ms, options.refresh_ms, options.full_ms, options.paste_chars)
