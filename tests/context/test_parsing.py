"""Definitions, imports and identifiers per language, from tree-sitter."""

from __future__ import annotations

import pytest

from keystroke.domain.context.parsing import Import, code_names, parse, summarize

PYTHON = '''"""Module."""
import os, sys as system
from .util import helper, other as alias
from pkg.mod import Thing
LIMIT = 3

@cache
def area(width: int, height: int = 2) -> int:
    """Width times height.

    More words."""
    return width * height  # a comment mentioning ghost_name

class Shape(Base):
    """A shape."""
    sides = 0
    def grow(self, factor):
        "Grow it."
        return factor
'''


def test_python_definitions_carry_signature_docstring_and_scope() -> None:
    found = {(d.qualified, d.kind): d for d in summarize(PYTHON, "python").definitions}
    assert set(found) == {
        ("LIMIT", "variable"),
        ("area", "function"),
        ("Shape", "class"),
        ("Shape.sides", "variable"),
        ("Shape.grow", "method"),
    }
    area = found[("area", "function")]
    assert area.signature == "def area(width: int, height: int = 2) -> int"
    assert area.docstring == "Width times height.\nMore words."
    assert area.line == 7
    assert found[("Shape", "class")].signature == "class Shape(Base)"
    assert found[("Shape.grow", "method")].docstring == "Grow it."


def test_python_imports_keep_modules_names_and_levels() -> None:
    assert summarize(PYTHON, "python").imports == (
        Import("os"),
        Import("sys"),
        Import("util", ("helper", "other"), 1),
        Import("pkg.mod", ("Thing",), 0),
    )


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        ("javascript", 'import x from "./y";\n// Adds.\nexport function add(a, b) { return a + b }\n', {"add"}),
        (
            "typescript",
            'import { a } from "./a";\nexport class Store {\n  get(key: string): number { return 1 }\n}\n',
            {"Store", "get"},
        ),
        ("go", 'package main\nimport "fmt"\n// T is a type.\ntype T struct{}\nfunc F() {}\n', {"T", "F"}),
        (
            "rust",
            "use std::io;\nstruct Point { x: i32 }\nfn origin() -> Point { Point { x: 0 } }\n",
            {"Point", "origin"},
        ),
        ("java", "import java.util.List;\nclass Box {\n  int size() { return 1; }\n}\n", {"Box", "size"}),
    ],
)
def test_other_languages_have_definitions_too(language: str, source: str, expected: set[str]) -> None:
    summary = summarize(source, language)
    assert {d.name for d in summary.definitions} == expected
    assert summary.imports


def test_comments_from_a_wrapper_become_the_docstring() -> None:
    [add] = summarize("// Adds two numbers.\nexport function add(a, b) { return a + b }\n", "javascript").definitions
    assert add.docstring == "Adds two numbers."


def test_identifiers_are_the_longer_words_of_the_file() -> None:
    identifiers = summarize(PYTHON, "python").identifiers
    assert {"area", "width", "height", "Shape", "factor", "ghost_name"} <= identifiers
    assert "os" not in identifiers  # two characters: too short to compare files by


def test_code_names_skip_strings_and_comments() -> None:
    tree = parse(PYTHON, "python")
    assert tree is not None
    names = code_names(tree, "python", 0, len(PYTHON.encode()))
    assert "width" in names
    assert "factor" in names
    assert "ghost_name" not in names
    assert "More" not in names


def test_a_language_without_a_grammar_still_gets_identifiers() -> None:
    summary = summarize("some words here", "plaintext")
    assert summary.definitions == ()
    assert "words" in summary.identifiers


def test_broken_code_still_parses_what_it_can() -> None:
    summary = summarize("def ok():\n    pass\n\ndef broken(:\n", "python")
    assert "ok" in {d.name for d in summary.definitions}
