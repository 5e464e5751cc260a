"""Accepted-and-retained characters: spans through edits (pure), horizons, and the editor session's events."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystroke.config import load_settings
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.retention import RetentionTracker, surviving, through_edit
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.services.editor import EditorService
from keystroke.services.local_lane import LocalLane
from keystroke.testing import ManualClock
from tests.conftest import run

ACCEPTED = "return left + rights"  # 20 characters


@pytest.mark.parametrize(
    ("spans", "edit", "expected"),
    [
        ([(10, 20)], (0, 0, 5), [(15, 25)]),  # typed before: moves
        ([(10, 20)], (25, 3, 0), [(10, 20)]),  # deleted after: untouched
        ([(10, 20)], (10, 5, 0), [(10, 15)]),  # first half deleted
        ([(10, 20)], (15, 0, 3), [(10, 15), (18, 23)]),  # typed inside: split, the new text not counted
        ([(10, 20)], (12, 4, 2), [(10, 12), (14, 18)]),  # replaced inside
        ([(10, 20)], (5, 20, 1), []),  # deleted with its surroundings
        ([(10, 20)], (20, 0, 4), [(10, 20)]),  # typed right after: not part of it
    ],
)
def test_spans_follow_edits(
    spans: list[tuple[int, int]], edit: tuple[int, int, int], expected: list[tuple[int, int]]
) -> None:
    assert through_edit(spans, *edit) == expected


@given(
    st.integers(0, 50),
    st.integers(1, 50),
    st.lists(st.tuples(st.integers(0, 120), st.integers(0, 30), st.integers(0, 30)), max_size=12),
)
def test_retained_never_exceeds_accepted_and_never_grows(
    start: int, chars: int, edits: list[tuple[int, int, int]]
) -> None:
    spans = [(start, start + chars)]
    for at, removed, inserted in edits:
        before = surviving(spans)
        spans = through_edit(spans, at, removed, inserted)
        assert 0 <= surviving(spans) <= before <= chars
        assert all(a < b for a, b in spans)


def test_each_horizon_is_measured_once_when_due() -> None:
    tracker = RetentionTracker()
    tracker.accept("s1", "inline", "u", 0, 10, now=100.0)
    assert tracker.due(129.9) == []
    tracker.edited("u", 0, 3, 0)
    assert [(r.horizon_s, r.retained) for r in tracker.due(130.0)] == [(30.0, 7)]
    tracker.edited("u", 0, 7, 0)
    assert [(r.horizon_s, r.retained) for r in tracker.due(1000.0)] == [(120.0, 0), (300.0, 0)]
    assert len(tracker) == 0  # every horizon measured: no longer tracked


def test_a_closed_document_is_not_measured_later() -> None:
    tracker = RetentionTracker()
    tracker.accept("s1", "inline", "u", 0, 10, now=0.0)
    tracker.closed("u")
    assert tracker.due(500.0) == []


class Collect:
    def __init__(self, store: TelemetryStore) -> None:
        self.store = store

    async def report(self, events: list[Event]) -> None:
        self.store.add("acme", events)


def test_accept_then_delete_half_retains_half_at_30_s() -> None:
    """The issue's scripted edits: accept a suggestion, delete half of it; the 30 s figure is 50%."""
    clock, store = ManualClock(1000.0, sleeps_pass_time=True), TelemetryStore(None)
    editor = EditorService(None, LocalLane(), load_settings(environ={}), clock=clock, telemetry=Collect(store))
    uri, before = "file:///w/m.py", "def add(left, right):\n    "
    editor.open(uri, before, 1, "python")
    editor.feedback.shown(uri, "s1", "inline", "python", len(before), 0, ACCEPTED, latency_ms=80.0)
    text = before + ACCEPTED
    editor.change(uri, 2, text)  # the editor inserts the suggestion...
    assert editor.accepted("s1")  # ...then runs the accept command
    clock.time += 10
    editor.change(uri, 3, text[: len(before) + 10])  # the user deletes the second half
    clock.time += 19.9
    run(editor.feedback.flush())
    assert store.rates("acme").retained_rate["30s"] is None  # not due yet
    clock.time += 0.1
    run(editor.feedback.flush())
    rates = store.rates("acme")
    assert rates.retained_rate["30s"] == pytest.approx(0.5)
    assert (rates.acceptance_rate, rates.shown, rates.typed_over) == (1.0, 1, 0)
    clock.time += 300
    editor.change(uri, 4, before)  # the rest goes too
    run(editor.feedback.flush())
    assert store.rates("acme").retained_rate == {"30s": 0.5, "120s": 0.0, "300s": 0.0}
    run(editor.aclose())
