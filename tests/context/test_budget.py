"""Filling the context budget: never over, priority first, deterministic placement, no near-copies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from keystroke.domain.context.budget import fill
from keystroke.domain.context.items import PRIORITY, ContextItem

items_strategy = st.lists(
    st.builds(
        ContextItem,
        source=st.sampled_from(PRIORITY),
        filepath=st.sampled_from(["a.py", "b.py", "c/d.py"]),
        body=st.text(alphabet="abc xyz_\n", min_size=1, max_size=200),
        line=st.integers(min_value=0, max_value=400),
    ),
    max_size=30,
)


def cost(item: ContextItem) -> int:
    return 5 + len(item.body) // 3  # a header plus the body, like a tokenizer would count it


@given(items_strategy, st.integers(min_value=0, max_value=400))
def test_the_budget_is_never_exceeded_whatever_the_mix(items: list[ContextItem], budget: int) -> None:
    assert sum(cost(item) for item in fill(items, budget, cost)) <= budget


@given(items_strategy, st.integers(min_value=0, max_value=400))
def test_placement_is_deterministic_and_ordered(items: list[ContextItem], budget: int) -> None:
    chosen = fill(items, budget, cost)
    assert chosen == fill(list(items), budget, cost)
    assert chosen == sorted(chosen, key=lambda item: item.order_key)


@given(items_strategy, st.integers(min_value=0, max_value=400))
def test_a_higher_priority_item_is_only_left_out_when_it_cannot_fit(items: list[ContextItem], budget: int) -> None:
    chosen = fill(items, budget, cost)
    used = sum(cost(item) for item in chosen)
    for item in items:
        if item in chosen:
            continue
        overlapping = any(other.filepath == item.filepath and other in chosen for other in items)
        if not overlapping:  # greedy by priority, and `used` only grows: it did not fit when its turn came
            assert used + cost(item) > budget


def test_priority_decides_who_gets_a_tight_budget() -> None:
    retrieved = ContextItem("retrieval", "r.py", "x" * 30)
    definition = ContextItem("definitions", "d.py", "y" * 30)
    assert fill([retrieved, definition], cost(definition), cost) == [definition]


def test_windows_repeating_the_code_at_the_cursor_are_dropped() -> None:
    local = {"discounted", "self", "subtotal", "apply_discount", "discount_percent", "with_tax"}
    copy = ContextItem("retrieval", "cart.py", "discounted = apply_discount(self.subtotal(), discount_percent)")
    fresh = ContextItem("retrieval", "pricing.py", "def with_tax(amount):\n    return amount * rate")
    definition = ContextItem("definitions", "pricing.py", "def apply_discount(amount, discount_percent)", 40)
    assert fill([copy, fresh, definition], 1000, cost, local) == [definition, fresh]


def test_overlapping_windows_of_one_file_are_kept_once() -> None:
    first = ContextItem("neighbours", "a.py", "\n".join(f"line_{i}" for i in range(20)), 10)
    second = ContextItem("retrieval", "a.py", "\n".join(f"line_{i}" for i in range(20)), 15)
    third = ContextItem("retrieval", "a.py", "\n".join(f"line_{i}" for i in range(20)), 40)
    assert fill([first, second, third], 1000, cost) == [first, third]
