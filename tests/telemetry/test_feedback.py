"""The editor session's telemetry events: typed over, typed through, dismissed, word-by-word accepts, delivery."""

from __future__ import annotations

from keystroke.domain.telemetry.events import Event
from keystroke.errors import RemoteUnavailableError
from keystroke.services.feedback import Feedback
from tests.conftest import run

URI = "file:///w/m.py"


def kinds(feedback: Feedback) -> list[str]:
    return [e.kind for e in feedback.take()]


def shown(feedback: Feedback, text: str = "return a + b", at: int = 10) -> None:
    feedback.shown(URI, "s1", "inline", "python", at, 0, text, latency_ms=42.0)


def test_typing_what_the_suggestion_says_is_not_typing_over_it() -> None:
    feedback = Feedback(None, lambda: 0.0)
    shown(feedback)
    feedback.edited(URI, 10, "", "re")
    feedback.edited(URI, 12, "", "t")
    assert kinds(feedback) == ["shown"]
    feedback.edited(URI, 13, "", "x")  # "ret" + "x": not what it says
    events = feedback.take()
    assert [(e.kind, e.suggestion_id, e.chars) for e in events] == [("typed_over", "s1", 9)]
    feedback.edited(URI, 14, "", "y")
    assert kinds(feedback) == []  # settled once


def test_deleting_before_the_suggestion_types_over_it() -> None:
    feedback = Feedback(None, lambda: 0.0)
    shown(feedback)
    feedback.take()
    feedback.edited(URI, 9, "x", "")
    assert kinds(feedback) == ["typed_over"]


def test_dismissed_once_and_unknown_ids_are_ignored() -> None:
    feedback = Feedback(None, lambda: 0.0)
    shown(feedback)
    assert feedback.dismissed("s1")
    assert not feedback.dismissed("s1")
    assert not feedback.accepted("s1")  # a dismissed suggestion is settled
    assert not feedback.accepted("nope")
    assert kinds(feedback) == ["shown", "dismissed"]


def test_word_by_word_accepts_are_pieces_of_one_acceptance() -> None:
    now = [0.0]
    feedback = Feedback(None, lambda: now[0])
    shown(feedback)
    feedback.edited(URI, 10, "", "return")
    assert feedback.accepted("s1", 10, 6)
    feedback.edited(URI, 16, "", " a")
    assert feedback.accepted("s1", 16, 2)
    feedback.edited(URI, 18, "", " + b")
    assert feedback.accepted("s1", 18, 4)
    assert not feedback.accepted("s1", 22, 1)  # all of it is in: settled
    now[0] = 31.0
    feedback.tick()
    events = feedback.take()
    assert [(e.kind, e.chars) for e in events if e.kind == "accepted"] == [
        ("accepted", 6),
        ("accepted", 2),
        ("accepted", 4),
    ]
    assert sum(e.retained or 0 for e in events if e.kind == "retained") == 12


class Failing:
    def __init__(self) -> None:
        self.calls = 0
        self.received: list[Event] = []

    async def report(self, events: list[Event]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RemoteUnavailableError("gateway down")
        self.received += events


def test_undelivered_events_are_kept_for_the_next_flush() -> None:
    sink = Failing()
    feedback = Feedback(sink, lambda: 0.0)
    feedback.outcome("abstained", "inline", "python")
    assert run(feedback.flush()) == 0
    assert feedback.waiting == 1
    feedback.outcome("stale", "inline", "python")
    assert run(feedback.flush()) == 2
    assert [e.kind for e in sink.received] == ["abstained", "stale"]


def test_accepting_a_correction_of_the_word_before_the_cursor_is_not_typing_over_it() -> None:
    feedback = Feedback(None, lambda: 0.0)
    feedback.shown(URI, "s2", "local", "python", 15, 5, "append", latency_ms=3.0)  # "apend" -> "append"
    feedback.take()
    feedback.edited(URI, 12, "", "p")  # the smallest difference between "x.apend" and "x.append"
    assert kinds(feedback) == []
    assert feedback.accepted("s2")
    assert [(e.kind, e.chars) for e in feedback.take()] == [("accepted", 6)]
