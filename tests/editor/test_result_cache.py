"""The editor's result cache: exact and retyped hits, type-through, TTL, LRU per file, invalidation, scoping."""

from __future__ import annotations

from keystroke.domain.editor.result_cache import PREFIX_CHARS, ResultCache, Scope
from keystroke.testing import ManualClock

A = Scope("tenant-a", "smollm2", "app.py")
PREFIX = "def area(r):\n    return "
SUFFIX = "\n"


def cache(clock: ManualClock | None = None) -> ResultCache:
    return ResultCache(clock=clock or ManualClock())


def text_at(results: ResultCache, scope: Scope, prefix: str, suffix: str = SUFFIX) -> str | None:
    """The cached answer's text there, or None."""
    hit = results.lookup(scope, prefix, suffix)
    return None if hit is None else hit.text


def test_the_same_text_around_the_cursor_is_a_hit_however_it_came_back() -> None:
    results = cache()
    results.store(A, PREFIX, SUFFIX, "3.14 * r * r")
    # deleted and retyped, undone and redone, cursor moved away and back: the same text, so the same answer
    hit = results.lookup(A, PREFIX, SUFFIX)
    assert hit is not None
    assert (hit.text, hit.typed) == ("3.14 * r * r", 0)
    assert results.lookup(A, PREFIX + "x", SUFFIX) is None
    assert results.lookup(A, PREFIX, "\nmore\n") is None  # different code after the cursor
    assert (results.hits, results.misses) == (1, 2)


def test_typing_the_start_of_a_suggestion_keeps_the_rest_shown() -> None:
    results = cache()
    results.store(A, PREFIX, SUFFIX, "3.14 * r * r")
    for typed in range(1, len("3.14 * r * r")):
        hit = results.lookup(A, PREFIX + "3.14 * r * r"[:typed], SUFFIX)
        assert hit is not None
        assert (hit.text, hit.typed) == ("3.14 * r * r"[typed:], typed)
    assert results.lookup(A, PREFIX + "3.15", SUFFIX) is None  # typed something else


def test_entries_expire_after_the_ttl() -> None:
    clock = ManualClock()
    results = cache(clock)
    results.store(A, PREFIX, SUFFIX, "r * r")
    clock.time = 29.9
    assert text_at(results, A, PREFIX) == "r * r"
    clock.time = 30.1
    assert results.lookup(A, PREFIX, SUFFIX) is None
    assert len(results) == 0


def test_at_most_ten_per_file_least_recently_used_out() -> None:
    results = cache()
    for n in range(10):
        results.store(A, f"x{n} = ", SUFFIX, str(n))
    assert text_at(results, A, "x0 = ") == "0"  # now the most recently used
    results.store(A, "x10 = ", SUFFIX, "10")
    assert len(results) == 10
    assert results.lookup(A, "x1 = ", SUFFIX) is None  # the least recently used went
    assert text_at(results, A, "x0 = ") == "0"
    other = Scope("tenant-a", "smollm2", "other.py")
    results.store(other, "y = ", SUFFIX, "1")
    assert len(results) == 11  # the bound is per file


def test_invalidation_drops_one_file_and_clear_drops_all() -> None:
    results = cache()
    other = Scope("tenant-a", "smollm2", "other.py")
    results.store(A, PREFIX, SUFFIX, "r")
    results.store(other, PREFIX, SUFFIX, "r")
    results.invalidate("app.py")
    assert results.lookup(A, PREFIX, SUFFIX) is None
    assert text_at(results, other, PREFIX) == "r"
    results.clear()
    assert len(results) == 0


def test_keys_carry_tenant_and_model() -> None:
    results = cache()
    results.store(A, PREFIX, SUFFIX, "r * r")
    assert results.lookup(Scope("tenant-b", "smollm2", "app.py"), PREFIX, SUFFIX) is None
    assert results.lookup(Scope("tenant-a", "other-model", "app.py"), PREFIX, SUFFIX) is None


def test_only_the_text_near_the_cursor_is_the_key() -> None:
    results = cache()
    far = "# header\n" * 500
    results.store(A, far + PREFIX, SUFFIX, "r")
    changed_far_above = "# HEADER\n" + far[9:]
    assert len(changed_far_above + PREFIX) > PREFIX_CHARS
    assert text_at(results, A, changed_far_above + PREFIX) == "r"
    results.store(A, PREFIX, SUFFIX, "")  # an empty suggestion is not worth keeping
    assert len(results) == 1
