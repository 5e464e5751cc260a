"""The repository index: what it holds, its cache across restarts, and incremental updates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.snippets import terms
from keystroke.errors import ConfigError
from tests.fixtures.workspace import INDEXED, SECRET


def test_build_holds_the_indexable_files_and_their_definitions(index: RepositoryIndex) -> None:
    summary = index.last_summary
    assert summary is not None
    assert set(index.files) == INDEXED  # binary, undecodable and oversized files are not held
    assert summary.files == len(INDEXED)
    names = {d.name for d in index.store.definitions_in("shop/pricing.py")}
    assert {"TAX_RATE", "PriceBook", "unit_price", "apply_discount", "with_tax"} <= names
    [located] = index.definitions(["apply_discount"])
    assert located.relpath == "shop/pricing.py"
    assert located.definition.signature == "def apply_discount(amount: float, percent: float) -> float"
    assert located.definition.docstring == "`amount` reduced by `percent` per cent."
    assert summary.snippets == "rebuilt"


def test_a_restart_rereads_nothing_and_loads_the_snippet_index(workspace: Path, tmp_path: Path) -> None:
    first = RepositoryIndex(workspace, cache_dir=tmp_path / "cache")
    first.build()
    first.close()
    second = RepositoryIndex(workspace, cache_dir=tmp_path / "cache")
    summary = second.build()
    assert (summary.parsed, summary.reused, summary.snippets) == (0, len(INDEXED), "loaded")
    assert second.snippets is not None
    assert second.snippets.search(terms("apply_discount"), 3)
    second.close()


def test_a_restart_reparses_only_the_changed_file(workspace: Path, tmp_path: Path) -> None:
    RepositoryIndex(workspace, cache_dir=tmp_path / "cache").build()
    path = workspace / "shop" / "report.py"
    path.write_text(path.read_text() + "\n\ndef receipt_total(cart):\n    return cart.total()\n")
    os.utime(path, ns=(1, 1))  # a different mtime whatever the clock resolution
    index = RepositoryIndex(workspace, cache_dir=tmp_path / "cache")
    summary = index.build()
    assert (summary.parsed, summary.reused, summary.snippets) == (1, len(INDEXED) - 1, "rebuilt")
    assert index.definitions(["receipt_total"])[0].relpath == "shop/report.py"


def test_update_applies_an_edit_a_new_file_and_a_deletion(index: RepositoryIndex, workspace: Path) -> None:
    (workspace / "shop" / "pricing.py").write_text("def apply_voucher(amount, code):\n    return amount\n")
    (workspace / "shop" / "stock.py").write_text("def in_stock(code):\n    return True\n")
    (workspace / "shop" / "report.py").unlink()
    index.update(["shop/pricing.py", "shop/stock.py", "shop/report.py"])
    assert index.definitions(["apply_discount"]) == []
    assert index.definitions(["apply_voucher"])[0].relpath == "shop/pricing.py"
    assert index.definitions(["in_stock"])[0].relpath == "shop/stock.py"
    assert "shop/report.py" not in index.files
    assert index.snippets is not None
    assert {"shop/pricing.py", "shop/report.py"} <= index.snippets.stale
    hits = index.snippets.search(terms("apply_discount amount percent"), 5)
    assert all(hit.window.relpath not in index.snippets.stale for hit in hits)


def test_update_ignores_excluded_and_binary_paths(index: RepositoryIndex, workspace: Path) -> None:
    (workspace / ".env").write_text(f"TOKEN={SECRET}\n")
    index.update([".env", "shop/logo.py", "node_modules/lib/index.js"])
    assert not {".env", "shop/logo.py", "node_modules/lib/index.js"} & set(index.files)


def test_rebuild_snippets_brings_changed_files_back(index: RepositoryIndex, workspace: Path) -> None:
    (workspace / "shop" / "stock.py").write_text("def restock_warehouse(code):\n    return code\n")
    index.update(["shop/stock.py"])
    index.rebuild_snippets()
    assert index.snippets is not None
    assert not index.snippets.stale
    assert index.snippets.search(terms("restock_warehouse"), 1)[0].window.relpath == "shop/stock.py"


def test_excluded_files_are_never_read(index: RepositoryIndex) -> None:
    for relpath in (".env", "credentials/shop.py", "deploy/id_rsa", "generated/stub.py", "env/lib/site.py"):
        assert index.read(relpath) is None
    assert index.snippets is not None
    for hit in index.snippets.search(terms("SHOP_API_KEY apply_discount PriceBook unit_price"), 50):
        assert SECRET not in "\n".join(index.lines(hit.window.relpath) or [])


def test_relative_imports_resolve_from_the_importing_file(index: RepositoryIndex) -> None:
    assert index.resolve_module("pricing", 1, "shop/cart.py") == ["shop/pricing.py"]
    assert index.resolve_module("shop.pricing") == ["shop/pricing.py"]
    assert index.resolve_module("shop") == ["shop/__init__.py"]
    assert index.resolve_module("nowhere") == []


def test_a_workspace_that_is_a_package_resolves_its_own_absolute_imports(workspace: Path, tmp_path: Path) -> None:
    package = RepositoryIndex(workspace / "shop", cache_dir=tmp_path / "cache2")
    package.build()
    assert package.resolve_module("shop.pricing") == ["pricing.py"]
    assert package.resolve_module("shop") == ["__init__.py"]
    assert package.resolve_module("email.pricing") == []  # another package's module of the same name
    package.close()


def test_a_file_swapped_for_a_symlink_after_indexing_is_not_read(index: RepositoryIndex, workspace: Path) -> None:
    report = workspace / "shop" / "report.py"
    report.unlink()
    report.symlink_to(workspace / ".env")
    index.clear_caches()
    assert index.read("shop/report.py") is None


def test_a_tree_over_the_file_limit_is_refused_not_indexed(workspace: Path, tmp_path: Path) -> None:
    index = RepositoryIndex(workspace, cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match="more than 2 files to index"):
        index.build(max_files=2)
    assert index.files == {}
    assert index.build(max_files=1000).files == len(INDEXED)
    index.close()
