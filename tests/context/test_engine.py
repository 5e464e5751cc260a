"""The context engine on a real index: what each depth runs, deadlines, and what never comes back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from keystroke.domain.context.engine import ContextEngine, ContextRequest, SourceBudgets
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.items import ContextItem
from keystroke.domain.context.sources import Query
from keystroke.domain.context.typing_rate import Depth
from tests.fixtures.workspace import FILES, SECRET

CART = FILES["shop/cart.py"]
CURSOR = CART.index("        return with_tax(discounted)")


def request(offset: int = 0) -> ContextRequest:
    at = CURSOR + offset
    return ContextRequest("shop/cart.py", CART[:at], CART[at:], "python")


@pytest.fixture
def engine(index: RepositoryIndex) -> Iterator[ContextEngine]:
    built = ContextEngine(index, budgets=SourceBudgets(200, 200, 200, 200))  # generous: CI machines are noisy
    yield built
    built.close()


def test_full_depth_runs_every_source_and_resolves_imports(engine: ContextEngine) -> None:
    collection = engine.collect(request(), Depth.FULL)
    assert [r.source for r in collection.reports] == ["definitions", "recent_edits", "neighbours", "retrieval"]
    assert all(r.status == "ok" for r in collection.reports)
    definitions = [i for i in collection.items if i.source == "definitions"]
    assert {i.body.split("(")[0] for i in definitions} >= {"def apply_discount", "def with_tax"}
    assert all(i.filepath == "shop/pricing.py" for i in definitions)
    assert '"""`amount` reduced by `percent` per cent."""' in next(
        i.body for i in definitions if i.body.startswith("def apply_discount")
    )
    assert any(i.source == "retrieval" for i in collection.items)


def test_nothing_comes_from_the_current_file_or_an_excluded_one(engine: ContextEngine) -> None:
    for depth in (Depth.FULL, Depth.REFRESH):
        for item in engine.collect(request(), depth).items:
            assert item.filepath != "shop/cart.py"
            assert SECRET not in item.body
            assert item.filepath.startswith(("shop/", "web/"))


def test_light_depth_reuses_the_previous_collection_unchanged(engine: ContextEngine) -> None:
    full = engine.collect(request(), Depth.FULL)
    light = engine.collect(request(3), Depth.LIGHT, full)
    assert light.items == full.items
    assert light.reports == ()


def test_refresh_reruns_the_searches_and_keeps_the_rest(engine: ContextEngine) -> None:
    full = engine.collect(request(), Depth.FULL)
    refreshed = engine.collect(request(5), Depth.REFRESH, full)
    assert [r.source for r in refreshed.reports] == ["definitions", "retrieval"]
    assert refreshed.by_source["neighbours"] == full.by_source["neighbours"]


def test_another_file_is_never_served_a_previous_collection(engine: ContextEngine) -> None:
    full = engine.collect(request(), Depth.FULL)
    other = ContextRequest("shop/report.py", FILES["shop/report.py"], "", "python")
    assert engine.collect(other, Depth.LIGHT, full).reports  # collected afresh, not reused


def test_recent_edits_in_other_files_are_offered(engine: ContextEngine) -> None:
    engine.recent.touch("shop/pricing.py", 17)
    engine.recent.touch("shop/cart.py", 3)  # the current file: covered by the prefix already
    items = [i for i in engine.collect(request(), Depth.FULL).items if i.source == "recent_edits"]
    assert [i.filepath for i in items] == ["shop/pricing.py"]
    assert "def apply_discount" in items[0].body


def stalling(_query: Query) -> list[ContextItem]:
    time.sleep(0.5)
    return [ContextItem("retrieval", "late.py", "too late")]


def failing(_query: Query) -> list[ContextItem]:
    raise RuntimeError("a broken source")


def test_a_source_past_its_deadline_is_skipped_not_waited_for(index: RepositoryIndex) -> None:
    engine = ContextEngine(index, budgets=SourceBudgets(200, 200, 200, 20), overrides={"retrieval": stalling})
    started = time.perf_counter()
    collection = engine.collect(request(), Depth.FULL)
    elapsed = time.perf_counter() - started
    engine.close()
    report = {r.source: r for r in collection.reports}
    assert report["retrieval"].status == "timeout"
    assert report["definitions"].status == "ok"
    assert elapsed < 0.45  # returned well before the stalled source finished
    assert all(item.filepath != "late.py" for item in collection.items)


def test_a_failing_source_costs_only_its_own_items(index: RepositoryIndex) -> None:
    engine = ContextEngine(index, overrides={"neighbours": failing}, budgets=SourceBudgets(200, 200, 200, 200))
    collection = engine.collect(request(), Depth.FULL)
    engine.close()
    report = {r.source: r.status for r in collection.reports}
    assert report["neighbours"] == "error"
    assert report["definitions"] == "ok"


def test_only_enabled_sources_run(index: RepositoryIndex) -> None:
    engine = ContextEngine(index, enabled=("definitions",), budgets=SourceBudgets(200, 200, 200, 200))
    collection = engine.collect(request(), Depth.FULL)
    engine.close()
    assert [r.source for r in collection.reports] == ["definitions"]
    assert {i.source for i in collection.items} == {"definitions"}
