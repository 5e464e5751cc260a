"""The editor's documents: their text, kept current by the editor's changes, and what each one is.

A `Document` applies LSP incremental changes where the editor says they are (`edits.py`: no comparison of
texts; a client that sends whole texts has its change found by comparison instead), and owns its user's
typing rhythm (`Rhythm`: the debounce and how deep to look for context, both from keystrokes). When opened it
is named (its key in caches and requests: workspace-relative inside the workspace) and its exclusion from
upload is decided, by the rules by name or a `.keystrokeignore` in its folder or above.

`Documents` is the room that holds them. Not thread-safe: one event loop drives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from keystroke.domain.context.languages import language_of
from keystroke.domain.context.typing_rate import Thresholds
from keystroke.domain.context.walker import keystroke_ignored
from keystroke.domain.editor.edits import Change, TextEdit, Units, apply_edit, text_change
from keystroke.domain.editor.session import DocumentSession
from keystroke.domain.editor.triggers import DebounceSettings, Rhythm, Trigger, classify
from keystroke.domain.privacy.exclusion import ExclusionRules

Edit = TextEdit | str  # a change where the editor says it is, or the document's whole new text


@dataclass
class Document:
    uri: str
    path: str | None  # on disk, when the document is a file
    key: str  # its name in cache keys and requests: workspace-relative when inside the workspace, else path or uri
    language: str | None
    text: str
    session: DocumentSession
    rhythm: Rhythm
    excluded: bool
    units: Units = "utf-16"  # how the editor counts columns in its changes
    trigger: Trigger = Trigger.TYPING  # of the last change
    timer: asyncio.Future[None] | None = field(default=None, repr=False)  # the pending request's debounce
    waited: float = 0.0  # seconds the current request spent in its debounce

    def apply(self, version: int, edits: Sequence[Edit], at: float) -> Change:
        """Apply one keystroke's edits (in order, each against the text the previous one left); the change,
        merged when there were several (a multi-cursor edit, a completion with additional edits)."""
        before = self.text
        changes = []
        for edit in edits:
            if isinstance(edit, str):
                changes.append(text_change(self.text, edit))
                self.text = edit
            else:
                self.text, change = apply_edit(self.text, edit, self.units)
                changes.append(change)
        change = changes[0] if len(changes) == 1 else text_change(before, self.text)
        self.session.changed(version)
        self.rhythm.keystroke(at, len(change.inserted) - len(change.removed))
        self.trigger = classify(change.inserted)
        if self.timer is not None and not self.timer.done():
            self.timer.cancel()  # a newer keystroke ends the wait, and the request with it
        return change


class Documents:
    """The open documents, by URI; `root`: the workspace folder (None: no workspace)."""

    def __init__(
        self, rules: ExclusionRules, root: Path | None, debounce: DebounceSettings, thresholds: Thresholds
    ) -> None:
        self.rules = rules
        self.root = root
        self._debounce = debounce
        self._thresholds = thresholds
        self._open: dict[str, Document] = {}

    def open(
        self, uri: str, text: str, version: int, language: str | None, path: str | None, units: Units = "utf-16"
    ) -> Document:
        """Track a document; an editor that names no language (Neovim without filetype detection) gets the
        one its file name says."""
        relative = self.relative(path)
        document = Document(
            uri, path, relative or path or uri, language or language_of(path or uri), text,
            DocumentSession(uri, version), Rhythm(self._debounce, self._thresholds), self.excludes(path, relative),
            units,
        )  # fmt: skip
        self._open[uri] = document
        return document

    def get(self, uri: str) -> Document | None:
        return self._open.get(uri)

    def __getitem__(self, uri: str) -> Document:
        return self._open[uri]

    def close(self, uri: str) -> Document | None:
        document = self._open.pop(uri, None)
        if document is not None and document.timer is not None:
            document.timer.cancel()
        return document

    def texts(self, but: str) -> tuple[str, ...]:
        """The texts of the other open documents (words for the local lane)."""
        return tuple(d.text for uri, d in self._open.items() if uri != but)

    def tighten(self, rules: ExclusionRules) -> None:
        """New rules (a gateway's policy added to this editor's): open documents are checked again; a document
        once excluded stays excluded."""
        self.rules = rules
        for document in self._open.values():
            document.excluded = document.excluded or self.excludes(document.path, self.relative(document.path))

    def excludes(self, path: str | None, relative: str | None) -> bool:
        """Whether a file may not leave this machine: the exclusion rules (defaults, configuration, the
        gateway's policy) by name, or a `.keystrokeignore` in its folder or above inside the workspace."""
        if path is None:
            return False
        if self.rules.excludes_named(relative or path):
            return True
        return relative is not None and self.root is not None and keystroke_ignored(self.root, relative)

    def relative(self, path: str | None) -> str | None:
        """`path` relative to the workspace root, or None when it lies outside (or there is no root)."""
        if path is None or self.root is None or not Path(path).is_relative_to(self.root):
            return None
        return Path(path).relative_to(self.root).as_posix()
