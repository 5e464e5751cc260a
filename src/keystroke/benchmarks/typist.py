"""A simulated user who retypes real code: the edit traces of `keystroke bench replay` (pure, seeded).

A task is a region of a real file (a function body, some lines long) blanked out; the typist types it back.
Between keystrokes it waits a human interval (lognormal around 160 ms, clipped to 80-400 ms) and now and
then does what people do:
- pauses to think (0.6-2 s) at the end of a line;
- mistypes a character, pauses, deletes it and retypes the right one (a deletion and a retype);
- undoes the last word and redoes it (the text comes back exactly as it was);
- jumps the cursor to another line and back (a request at each place);
- pastes the next lines at once (a large edit: the file's cached results are dropped).
When a suggestion is shown that is exactly what the typist was about to type (and is not blank), it
accepts it (Tab): the suggestion is inserted at once and the characters it saved are counted.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ActionKind = Literal["type", "typo", "fix", "undo", "redo", "jump", "back", "paste", "accept"]
MIN_INTERVAL_S = 0.080
MAX_INTERVAL_S = 0.400
_NEIGHBOURS = "qwertyuiopasdfghjklzxcvbnm"


@dataclass(frozen=True)
class Task:
    """Retype `target[start:end]` of a file whose text is `target`."""

    path: str
    target: str
    start: int
    end: int


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    delay_s: float  # waited before the action
    text: str  # the whole document after it
    cursor: int  # offset of the cursor after it


def key_interval_s(rng: random.Random) -> float:
    """A human interval between two keys: lognormal around 160 ms, clipped to 80-400 ms."""
    return min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, rng.lognormvariate(-1.83, 0.35)))


def human_delay_s(rng: random.Random, line_end: bool) -> float:
    """The wait before the next key: now and then (15%) a pause to think (0.6-2 s) at the end of a line."""
    if line_end and rng.random() < 0.15:
        return rng.uniform(0.6, 2.0)
    return key_interval_s(rng)


def find_tasks(root: Path, count: int, seed: int = 0, min_lines: int = 4, max_lines: int = 25) -> list[Task]:
    """Up to `count` function bodies of `min_lines`..`max_lines` lines from the Python files under `root`."""
    candidates: list[Task] = []
    for path in sorted(root.rglob("*.py")):
        if any(
            part.startswith(".") or part in ("node_modules", "__pycache__") for part in path.relative_to(root).parts
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        candidates.extend(_bodies(path, text, tree, min_lines, max_lines))
    random.Random(seed).shuffle(candidates)
    return candidates[:count]


def _bodies(path: Path, text: str, tree: ast.Module, min_lines: int, max_lines: int) -> Iterator[Task]:
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.body:
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(node.body) > 1:
            first = node.body[1]  # keep the docstring: the typist writes the code
        last_line = node.end_lineno or node.lineno
        if min_lines <= last_line - first.lineno + 1 <= max_lines:
            start = starts[first.lineno - 1] + first.col_offset
            end = starts[last_line] - 1
            if end > start:
                yield Task(str(path), text, start, end)


class Typist:
    """Walks one task: wait `delay` seconds, then `step()`, until it returns None. Seeded, so reproducible;
    not thread-safe."""

    def __init__(self, task: Task, rng: random.Random) -> None:
        self.task = task
        self.rng = rng
        self.text = task.target[: task.start] + task.target[task.end :]
        self.cursor = task.start
        self.typed = 0  # characters of the region in place
        self._pending: list[tuple[ActionKind, str, int, float]] = []  # scripted follow-ups (text, cursor, delay)
        self.delay = self._interval()  # before the next action

    @property
    def upcoming(self) -> str:
        """What the typist will type next, to the end of the region."""
        return self.task.target[self.task.start + self.typed : self.task.end]

    def step(self, shown: str | None = None) -> Action | None:
        """The next action: accepting `shown` if it is exactly what comes next (and not blank), else the next
        keystroke or scripted move. Draws the wait before the following action."""
        action = self._accept(shown) if shown else None
        if action is None:
            action = self._next()
        if action is not None:
            self.delay = self._pending[0][3] if self._pending else self._pause_or_interval()
        return action

    def would_accept(self, suggestion: str | None) -> bool:
        """Whether `suggestion` is correct here: not blank, exactly what comes next, and the typist is not in
        the middle of a scripted move (fixing a typo, coming back from a jump)."""
        return (
            bool(suggestion and suggestion.strip()) and self.upcoming.startswith(suggestion or "") and not self._pending
        )

    def _accept(self, suggestion: str) -> Action | None:
        if not self.would_accept(suggestion):
            return None
        self._insert(suggestion)
        return Action("accept", self.delay, self.text, self.cursor)

    def _next(self) -> Action | None:
        delay = self.delay
        if self._pending:
            kind, text, cursor, _ = self._pending.pop(0)
            self.text, self.cursor = text, cursor
            return Action(kind, delay, text, cursor)
        upcoming = self.upcoming
        if not upcoming:
            return None
        roll = self.rng.random()
        if roll < 0.010 and "\n" in upcoming[1:]:
            return self._paste(upcoming, delay)
        if roll < 0.040 and self.typed > 3 and upcoming[0].isalpha():
            return self._typo(upcoming[0], delay)
        if roll < 0.055 and self._last_word():
            return self._undo(delay)
        if roll < 0.065 and self.text.count("\n") > 2:
            return self._jump(delay)
        self._insert(upcoming[0])
        return Action("type", delay, self.text, self.cursor)

    def _pause_or_interval(self) -> float:
        return human_delay_s(self.rng, self.upcoming.startswith("\n"))

    def _interval(self) -> float:
        return key_interval_s(self.rng)

    def _insert(self, chunk: str) -> None:
        self.text = self.text[: self.cursor] + chunk + self.text[self.cursor :]
        self.cursor += len(chunk)
        self.typed += len(chunk)

    def _paste(self, upcoming: str, delay: float) -> Action:
        lines = upcoming.split("\n")
        self._insert("\n".join(lines[: self.rng.randint(2, 4)]))
        return Action("paste", delay, self.text, self.cursor)

    def _typo(self, right: str, delay: float) -> Action:
        wrong = self.rng.choice([c for c in _NEIGHBOURS if c != right.lower()])
        self._pending = [("fix", self.text, self.cursor, self.rng.uniform(0.25, 0.6))]
        self.text, self.cursor = self.text[: self.cursor] + wrong + self.text[self.cursor :], self.cursor + 1
        return Action("typo", delay, self.text, self.cursor)

    def _last_word(self) -> str:
        before = self.text[: self.cursor]
        start = len(before)
        while start > 0 and (before[start - 1].isalnum() or before[start - 1] == "_"):
            start -= 1
        word = before[start:]
        return word if len(word) >= 3 and self.typed >= len(word) else ""

    def _undo(self, delay: float) -> Action:
        word = self._last_word()
        self._pending = [("redo", self.text, self.cursor, self.rng.uniform(0.3, 0.8))]
        self.text, self.cursor = (
            self.text[: self.cursor - len(word)] + self.text[self.cursor :],
            self.cursor - len(word),
        )
        return Action("undo", delay, self.text, self.cursor)

    def _jump(self, delay: float) -> Action:
        line = self.rng.randrange(self.text.count("\n"))
        offset = 0
        for _ in range(line):
            offset = self.text.index("\n", offset) + 1
        end = self.text.find("\n", offset)
        self._pending = [("back", self.text, self.cursor, self.rng.uniform(0.5, 1.5))]
        self.cursor = end if end >= 0 else len(self.text)
        return Action("jump", delay, self.text, self.cursor)
