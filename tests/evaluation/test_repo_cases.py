"""Where `keystroke eval repo` cuts its cases: after another file's `Name.` or `name(`, never elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keystroke.domain.context.index import RepositoryIndex
from keystroke.evaluation.repo import find_cases

FILES = {
    "pkg/__init__.py": "",
    "pkg/shapes.py": """class Circle:
    unit = "cm"

    def __init__(self, radius: float) -> None:
        self.radius = radius

    def area(self) -> float:
        return 3.14159 * self.radius**2


def square(side: float) -> float:
    return side * side
""",
    "pkg/geometry.py": """from pkg import shapes
from pkg.shapes import Circle, square
import os


def total(radius: float, side: float) -> float:
    circle = Circle(radius)
    print("Circle.area(x) is quoted")
    os.path.join("a", "b")
    unit = Circle.unit
    bogus = Circle.no_such_member
    empty = square()
    return circle.area() + shapes.square(side)
""",
}


@pytest.fixture
def index(tmp_path: Path) -> Iterator[RepositoryIndex]:
    for relpath, text in FILES.items():
        (tmp_path / "ws" / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "ws" / relpath).write_text(text)
    built = RepositoryIndex(tmp_path / "ws", cache_dir=tmp_path / "cache")
    built.build()
    yield built
    built.close()


def test_cases_cut_after_a_cross_file_member_or_call(index: RepositoryIndex) -> None:
    cases = sorted(find_cases(index, 100), key=lambda case: case.line)
    assert [(c.kind, c.symbol, c.reference) for c in cases] == [
        ("call", "Circle", "radius)"),
        ("member", "Circle.unit", "unit"),
        ("member", "shapes.square", "square(side)"),
    ]
    for case in cases:
        assert case.filepath == "pkg/geometry.py"
        assert case.prefix + case.reference == FILES["pkg/geometry.py"][: len(case.prefix) + len(case.reference)]
        assert not case.suffix or case.suffix.startswith("\n")


def test_cases_are_reproducible_and_limited(index: RepositoryIndex) -> None:
    assert find_cases(index, 2, seed=3) == find_cases(index, 2, seed=3)
    assert len(find_cases(index, 2)) == 2
