"""The definitions source when the cursor follows `Name.`: the members of that class or module come first."""

from __future__ import annotations

from pathlib import Path

from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.parsing import imports_of, parse
from keystroke.domain.context.sources import MEMBER_CHARS, Query, definitions


def query(prefix: str, filepath: str = "shop/report.py") -> Query:
    tree = parse(prefix, "python")
    assert tree is not None
    return Query(filepath, prefix, "\n", imports_of(tree, "python"))


def test_after_a_module_name_its_members_lead(index: RepositoryIndex) -> None:
    items = definitions(index, query("from shop import pricing\n\n\ndef f(amount):\n    return pricing."))
    first = items[0]
    assert first.filepath == "shop/pricing.py"
    assert first.body.split("\n") == [
        "TAX_RATE = 0.2",
        "class PriceBook: ...",
        "def apply_discount(amount: float, percent: float) -> float: ...",
        "def with_tax(amount: float) -> float: ...",
    ]


def test_what_is_typed_of_the_member_ranks_it_first(index: RepositoryIndex) -> None:
    items = definitions(index, query("from shop import pricing\n\nx = pricing.wi"))
    assert items[0].body.startswith("def with_tax(")


def test_after_a_class_name_its_members_follow_its_signature(index: RepositoryIndex) -> None:
    items = definitions(index, query("from shop.pricing import PriceBook\n\nprice = PriceBook."))
    assert items[0].body.split("\n") == [
        "class PriceBook:",
        "    def unit_price(self, code: str) -> float: ...",
        "    def __init__(self, prices: dict[str, float]) -> None: ...",
    ]
    assert sum(item.body.startswith("class PriceBook") for item in items) == 1  # not listed twice


def test_a_long_module_is_listed_within_its_size_public_names_first(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    functions = [f"def _private_{n}(value: int) -> int:\n    return value\n" for n in range(40)]
    functions += [f"def public_{n}(value: int, other: str = 'x') -> int:\n    return value\n" for n in range(40)]
    (tmp_path / "ws" / "big.py").write_text("\n".join(functions))
    index = RepositoryIndex(tmp_path / "ws", cache_dir=tmp_path / "cache")
    index.build()
    try:
        body = definitions(index, query("import big\n\nx = big.", filepath="main.py"))[0].body
    finally:
        index.close()
    assert len(body) <= MEMBER_CHARS
    assert body.startswith("def public_0(")
    assert "_private" not in body


def test_no_listing_for_a_name_from_outside_the_repository(index: RepositoryIndex) -> None:
    items = definitions(index, query("import os\n\nx = os."))
    assert all(not item.body.startswith("def getcwd") for item in items)
    assert definitions(index, query("x = unknown.")) == []
