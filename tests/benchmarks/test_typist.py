"""The replay's simulated typist: human intervals, every kind of edit, and a task always ends retyped."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from keystroke.benchmarks.typist import MAX_INTERVAL_S, MIN_INTERVAL_S, Task, Typist, find_tasks

CODE = '''def area(radius):
    """The area."""
    squared = radius * radius
    result = 3.14159 * squared
    return result


def total(values):
    running = 0
    for value in values:
        running = running + value
    return running
'''


def tasks(tmp_path: Path) -> list[Task]:
    (tmp_path / "geometry.py").write_text(CODE)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "skip.py").write_text(CODE)
    return find_tasks(tmp_path, 10, min_lines=2)


def test_tasks_are_function_bodies_without_the_docstring(tmp_path: Path) -> None:
    found = tasks(tmp_path)
    assert {Path(t.path).name for t in found} == {"geometry.py"}
    bodies = sorted(t.target[t.start : t.end] for t in found)
    assert bodies[0].startswith("running = 0")
    assert bodies[1].startswith("squared = radius")  # the docstring stays: the typist writes the code


def test_a_typist_ends_with_the_file_as_it_was_using_every_kind_of_edit(tmp_path: Path) -> None:
    kinds: Counter[str] = Counter()
    found = tasks(tmp_path)
    for seed in range(30):
        for task in found:
            typist = Typist(task, random.Random(seed))
            while (action := typist.step()) is not None:
                kinds[action.kind] += 1
                if action.kind == "type":
                    assert MIN_INTERVAL_S <= action.delay_s <= 2.0
            assert typist.text == task.target
    assert set(kinds) >= {"type", "typo", "fix", "undo", "redo", "jump", "back", "paste"}


def test_a_suggestion_is_accepted_only_when_it_is_what_comes_next(tmp_path: Path) -> None:
    task = next(t for t in tasks(tmp_path) if t.target[t.start :].startswith("squared"))
    typist = Typist(task, random.Random(0))
    refused = typist.step("squared = radius + 1")  # not what comes next: the typist types on instead
    assert refused is not None
    assert refused.kind != "accept"
    typist = Typist(task, random.Random(0))
    action = typist.step("squared = radius")
    assert action is not None
    assert action.kind == "accept"
    assert typist.upcoming.startswith(" * radius")
    blank = Typist(task, random.Random(0)).step("   ")
    assert blank is not None
    assert blank.kind != "accept"
    assert MIN_INTERVAL_S <= Typist(task, random.Random(1)).delay <= MAX_INTERVAL_S


def test_a_correct_suggestion_is_one_the_typist_would_accept(tmp_path: Path) -> None:
    task = next(t for t in tasks(tmp_path) if t.target[t.start :].startswith("squared"))
    typist = Typist(task, random.Random(0))
    assert typist.would_accept("squared")
    assert typist.would_accept("squared = radius")
    assert not typist.would_accept("squared = 2")
    assert not typist.would_accept("  ")
    assert not typist.would_accept(None)
