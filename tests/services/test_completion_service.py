"""The completion service on the real default model: streaming, supersession, ranking, limits."""

from __future__ import annotations

import asyncio

import pytest

from keystroke.domain.prompt.profiles import left_to_right
from keystroke.errors import InvalidRequestError, PayloadTooLargeError
from keystroke.services.completion import CompletionService
from keystroke.services.types import CompletionEvent, CompletionRequest, Delta, Finished, FirstAction
from tests.conftest import make_settings, run

pytestmark = pytest.mark.model

COUNTING = "numbers = [\n    1,\n    2,\n    3,\n    4,\n"


async def events_of(service: CompletionService, request: CompletionRequest) -> list[CompletionEvent]:
    return [event async for event in service.stream(request)]


def test_inline_streams_the_first_action_then_finishes_with_the_same_text(service: CompletionService) -> None:
    events = run(events_of(service, CompletionRequest(prefix="def add(a, b):\n    return", mode="inline")))
    assert [type(e) for e in events] == [FirstAction, Finished]
    first, finished = events
    assert isinstance(first, FirstAction)
    assert isinstance(finished, Finished)
    assert first.text == finished.result.text
    timings = finished.result.timings
    assert timings.first_token_ms is not None
    assert timings.first_action_ms is not None
    assert timings.first_token_ms <= timings.first_action_ms <= timings.total_ms
    assert finished.result.finish_reason == "stop"


def test_multiline_streams_line_by_line(service: CompletionService) -> None:
    events = run(events_of(service, CompletionRequest(prefix=COUNTING, mode="multiline")))
    assert isinstance(events[0], FirstAction)
    assert isinstance(events[-1], Finished)
    deltas = [e for e in events if isinstance(e, Delta)]
    assert deltas, "a list that goes on for lines streams more than one line"
    assert events[0].text + "".join(d.text for d in deltas) == events[-1].result.text
    assert all(d.text.startswith("\n") for d in deltas)


def test_a_newer_request_of_the_same_session_cancels_the_older_one(service: CompletionService) -> None:
    long_blocks = CompletionService(
        service.backend,
        left_to_right(),
        make_settings(**{"completion.multiline_max_lines": 500, "completion.multiline_max_tokens": 400}),
    )

    async def scenario() -> tuple[object, object]:
        first_stream = long_blocks.stream(CompletionRequest(prefix=COUNTING, mode="multiline", session_id="editor"))
        first_events = [await first_stream.__anext__()]  # the first line is on screen: decoding goes on
        second = asyncio.create_task(
            long_blocks.complete(CompletionRequest(prefix=COUNTING + "    5,\n", mode="inline", session_id="editor"))
        )
        first_events += [event async for event in first_stream]
        return first_events[-1], await second

    first_done, second = run(scenario())
    assert isinstance(first_done, Finished)
    first = first_done.result
    assert first.finish_reason == "cancelled"
    assert first.usage.completion_tokens < 400
    assert first.text  # what was already shown stays reported
    assert second.finish_reason in ("stop", "eos")  # type: ignore[attr-defined]


def test_ranked_answer_is_shown_once_and_keeps_the_code_compiling(service: CompletionService) -> None:
    prefix = "def count_positive(values):\n    total = 0\n"
    suffix = "        if value > 0:\n            total += 1\n    return total\n"
    events = run(events_of(service, CompletionRequest(prefix=prefix, suffix=suffix, language="python", mode="inline")))
    assert [type(e) for e in events] == [FirstAction, Finished]
    result = events[-1].result  # type: ignore[union-attr]
    assert result.text.strip().startswith("for ")
    compile(prefix + result.text + "\n" + suffix, "<test>", "exec")
    assert result.usage.completion_tokens > len(result.text) // 8  # alternatives were decoded too


def test_an_automatic_request_is_greedy_and_streams_its_line_as_it_completes(service: CompletionService) -> None:
    prefix = "def count_positive(values):\n    total = 0\n"
    suffix = "        if value > 0:\n            total += 1\n    return total\n"
    request = CompletionRequest(prefix=prefix, suffix=suffix, language="python", mode="inline", trigger="automatic")
    result = run(service.complete(request))
    assert result.usage.candidates == 1  # no alternatives decoded
    assert result.text
    ranking = make_settings(**{"completion.rank_automatic": True})
    ranked = run(CompletionService(service.backend, service.profile, ranking).complete(request))
    assert ranked.usage.candidates > 1  # unless the configuration asks for it


def test_limits_are_enforced_with_the_field_named(service: CompletionService) -> None:
    small = CompletionService(service.backend, service.profile, make_settings(**{"limits.max_prefix_bytes": 10}))
    with pytest.raises(PayloadTooLargeError) as too_large:
        run(small.complete(CompletionRequest(prefix="x" * 11)))
    assert too_large.value.field == "segments.prefix"
    with pytest.raises(InvalidRequestError) as bad_cap:
        run(service.complete(CompletionRequest(prefix="x", max_tokens=0)))
    assert bad_cap.value.field == "max_tokens"
