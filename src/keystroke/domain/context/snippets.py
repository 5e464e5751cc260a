"""The snippet index (tier L3): BM25 (bm25s) over fixed windows of every indexed file.

A window is `WINDOW_LINES` lines, starting every `STRIDE_LINES` (equal: windows tile the file; half-overlapping
windows doubled the BM25 build, 10 s on the standard library, for a small gain in recall). Its terms are the
words of its identifiers, split at snake_case and camelCase boundaries and lower-cased, so `parse_header` and
`parseHeader` both match a query for `header`. Terms are cut per block of `STRIDE_LINES` lines with one
regular expression, not a Python loop per word, which keeps a 31 MB tree within the cold-build budget. The index
is saved beside the project cache with the file hashes it was built from and loaded on restart when they
still match. A file that changes after the build is masked out of the scores until the next rebuild (the
editor side covers recently edited code with its own source).

Size: one window per `STRIDE_LINES` lines of indexed code, scores as a sparse matrix (bm25s). Thread-safety:
readers use whatever index is current; `rebuild` swaps in a new one atomically.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WINDOW_LINES = 20
STRIDE_LINES = 20
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_FORMAT = "1"
COMMON_SHARE = 0.05
COMMON_MIN_WINDOWS = 200  # in a small repository every term is cheap, so none is skipped


@dataclass(frozen=True)
class Window:
    relpath: str
    start: int  # first line, 0-based
    end: int  # one past the last line


@dataclass(frozen=True)
class Hit:
    window: Window
    score: float


def terms(text: str) -> list[str]:
    """BM25 terms of a piece of code: the lower-cased words of its identifiers."""
    return " ".join(_WORDS.findall(text)).lower().split()


def block_terms(text: str) -> list[str]:
    """The terms of each block of `STRIDE_LINES` lines, space-joined (cheap to send between processes)."""
    lines = text.split("\n")
    return [
        " ".join(_WORDS.findall("\n".join(lines[i : i + STRIDE_LINES]))).lower()
        for i in range(0, len(lines), STRIDE_LINES)
    ]


def windows_from_blocks(relpath: str, blocks: Sequence[str]) -> Iterator[tuple[Window, list[str]]]:
    """Windows of `WINDOW_LINES` lines made of consecutive blocks; windows without a term are skipped."""
    span = WINDOW_LINES // STRIDE_LINES
    for first in range(0, max(1, len(blocks) - span + 1)):
        words = " ".join(blocks[first : first + span]).split()
        if words:
            start = first * STRIDE_LINES
            yield Window(relpath, start, start + WINDOW_LINES), words


class SnippetIndex:
    def __init__(self, windows: Sequence[Window], model: object, hashes: dict[str, str]) -> None:
        self.windows = tuple(windows)
        self.hashes = dict(hashes)  # relpath -> content hash the windows were cut from
        self._model = model
        self._stale: set[str] = set()
        self._mask: np.ndarray | None = None
        self._common: frozenset[int] | None = None

    @classmethod
    def build(cls, documents: Iterable[tuple[Window, list[str]]], hashes: dict[str, str]) -> SnippetIndex:
        import bm25s

        windows: list[Window] = []
        corpus: list[list[str]] = []
        for window, words in documents:
            windows.append(window)
            corpus.append(words)
        model = bm25s.BM25()
        if corpus:
            model.index(corpus, show_progress=False)
        return cls(windows, model, hashes)

    @classmethod
    def load(cls, directory: Path) -> SnippetIndex | None:
        """The saved index, or None when there is none or it is unreadable."""
        import bm25s

        meta = directory / "windows.json"
        try:
            saved = json.loads(meta.read_text())
            if saved.get("format") != _FORMAT:
                return None
            windows = [Window(*row) for row in saved["windows"]]
            model = bm25s.BM25.load(str(directory / "bm25"), mmap=False, show_progress=False) if windows else None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return cls(windows, model, saved["hashes"])

    def save(self, directory: Path) -> None:
        temporary = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        if self.windows:
            self._model.save(str(temporary / "bm25"), show_progress=False)  # type: ignore[attr-defined]
        rows = [[w.relpath, w.start, w.end] for w in self.windows]
        payload = {"format": _FORMAT, "windows": rows, "hashes": self.hashes}
        (temporary / "windows.json").write_text(json.dumps(payload))
        shutil.rmtree(directory, ignore_errors=True)
        temporary.rename(directory)

    def mark_stale(self, relpaths: Iterable[str]) -> None:
        """Leave these files' windows out of every search until the next rebuild."""
        new = set(relpaths) - self._stale
        if not new:
            return
        self._stale |= new
        self._mask = np.array([w.relpath not in self._stale for w in self.windows], dtype=np.float32)

    @property
    def stale(self) -> frozenset[str]:
        return frozenset(self._stale)

    def _common_terms(self) -> frozenset[int]:
        """Ids of terms in more than `COMMON_SHARE` of the windows (and over `COMMON_MIN_WINDOWS`): they barely
        move BM25 and their long postings are most of a query's cost, so queries skip them."""
        if self._common is None:
            postings = np.diff(np.asarray(self._model.scores["indptr"]))  # type: ignore[attr-defined]
            limit = max(COMMON_SHARE * len(self.windows), COMMON_MIN_WINDOWS)
            self._common = frozenset(int(i) for i in np.flatnonzero(postings > limit))
        return self._common

    def search(self, query: Sequence[str], k: int, exclude: str | None = None) -> list[Hit]:
        """The `k` best windows for the query terms, best first (ties by position, so the order is stable)."""
        if not self.windows or not query:
            return []
        vocab: dict[str, int] = self._model.vocab_dict  # type: ignore[attr-defined]
        common = self._common_terms()
        known = [term for term in dict.fromkeys(query) if term in vocab and vocab[term] not in common]
        if not known:
            return []
        scores = np.asarray(self._model.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]
        if self._mask is not None:
            scores = scores * self._mask
        take = min(len(scores), k * 4 if exclude else k)
        top = np.argpartition(-scores, take - 1)[:take]
        ranked = sorted(top.tolist(), key=lambda i: (-float(scores[i]), i))
        hits = [Hit(self.windows[i], float(scores[i])) for i in ranked if scores[i] > 0]
        if exclude is not None:
            hits = [hit for hit in hits if hit.window.relpath != exclude]
        return hits[:k]
