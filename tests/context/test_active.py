"""L1: the active file's tree, reparsed incrementally after each edit, equals a full parse."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keystroke.domain.context.active import ActiveFiles, common_prefix
from keystroke.domain.context.parsing import parse

BASE = "import os\n\n\ndef area(w, h):\n    return w * h\n\n\nclass Box:\n    size = 1\n"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(BASE)), st.integers(0, 12), st.text(alphabet="ab_ ():\n", max_size=12))
def test_incremental_reparse_matches_a_full_parse(at: int, remove: int, insert: str) -> None:
    files = ActiveFiles()
    files.update("m.py", BASE, "python")
    edited = BASE[:at] + insert + BASE[at + remove :]
    assume(edited != BASE)
    entry = files.update("m.py", edited, "python")
    full = parse(edited, "python")
    assert entry.incremental
    assert entry.tree is not None
    assert full is not None
    assert str(entry.tree.root_node) == str(full.root_node)


def test_imports_follow_the_text() -> None:
    files = ActiveFiles()
    files.update("m.py", BASE, "python")
    entry = files.update("m.py", "import sys\n" + BASE, "python")
    assert [i.module for i in entry.imports] == ["sys", "os"]


def test_capacity_bounds_the_cache() -> None:
    files = ActiveFiles(capacity=2)
    for name in ("a.py", "b.py", "c.py"):
        files.update(name, BASE, "python")
    assert files.get("a.py") is None
    assert files.get("c.py") is not None
    files.clear()
    assert files.get("c.py") is None


@given(st.binary(max_size=12), st.binary(max_size=12))
def test_common_prefix_by_bisection(a: bytes, b: bytes) -> None:
    expected = 0
    while expected < min(len(a), len(b)) and a[expected] == b[expected]:
        expected += 1
    assert common_prefix(a, b) == expected
