"""Tier L1: the files being edited — their text and syntax tree, reparsed incrementally on each change.

Each `update` diffs the new text against the previous one (common prefix and suffix), tells tree-sitter what
changed (`Tree.edit`) and reparses with the old tree, so a keystroke costs a fraction of a full parse.

Size: the `capacity` most recently updated files (LRU). Thread-safety: a lock around the table; a file's
entry is replaced whole, never mutated in place. Clear with `clear()`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import AnyStr

from tree_sitter import Point, Tree

from keystroke.domain.context.parsing import Import, imports_of, parse


@dataclass(frozen=True)
class ActiveFile:
    filepath: str
    language: str
    text: str
    tree: Tree | None
    imports: tuple[Import, ...]
    incremental: bool  # whether this tree came from an incremental reparse


class ActiveFiles:
    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._files: OrderedDict[str, ActiveFile] = OrderedDict()
        self._lock = threading.Lock()

    def update(self, filepath: str, text: str, language: str) -> ActiveFile:
        with self._lock:
            previous = self._files.get(filepath)
        if previous is not None and previous.text == text and previous.language == language:
            return previous
        old_tree = None
        if previous is not None and previous.tree is not None and previous.language == language:
            old_tree = previous.tree.copy()
            _apply_edit(old_tree, previous.text, text)
        tree = parse(text, language, old_tree)
        imports = imports_of(tree, language) if tree is not None else ()
        entry = ActiveFile(filepath, language, text, tree, imports, old_tree is not None)
        with self._lock:
            self._files.pop(filepath, None)
            self._files[filepath] = entry
            while len(self._files) > self.capacity:
                self._files.popitem(last=False)
        return entry

    def get(self, filepath: str) -> ActiveFile | None:
        with self._lock:
            return self._files.get(filepath)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()


def _apply_edit(tree: Tree, old: str, new: str) -> None:
    """Describe to tree-sitter the single edit that turns `old` into `new` (in UTF-8 bytes and points)."""
    old_bytes, new_bytes = old.encode("utf-8"), new.encode("utf-8")
    start = common_prefix(old_bytes, new_bytes)
    tail = common_prefix(old_bytes[start:][::-1], new_bytes[start:][::-1])
    old_end, new_end = len(old_bytes) - tail, len(new_bytes) - tail
    tree.edit(
        start_byte=start,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=_point(old_bytes, start),
        old_end_point=_point(old_bytes, old_end),
        new_end_point=_point(new_bytes, new_end),
    )


def common_prefix(a: AnyStr, b: AnyStr) -> int:
    """Length of the common prefix, by bisection over slice comparisons (C speed, not a loop per byte)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _point(data: bytes, offset: int) -> Point:
    row = data.count(b"\n", 0, offset)
    column = offset - (data.rfind(b"\n", 0, offset) + 1)
    return Point(row, column)
