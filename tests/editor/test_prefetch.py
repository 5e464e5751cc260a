"""Prefetch: after a suggestion that ends its line is shown, the next line is asked for in the background; a
matching keystroke keeps it and the request after Enter is answered from the cache (a hit, no request); a
non-matching keystroke cancels it. The remote lane is the real default model behind a `GatedLane`."""

from __future__ import annotations

import pytest

from keystroke.domain.editor.result_cache import ResultCache, Scope
from keystroke.services.admission import BACKGROUND, INLINE, AdmissionControl
from keystroke.services.completion import CompletionService
from keystroke.services.prefetch import next_prefix, still_useful
from keystroke.testing import settle
from tests.conftest import make_settings
from tests.editor.test_editor_service import Rig, scenario

START = "x1 = 1\nx2 = 2\nx3 = 3\nx4 = 4\nx5 ="


@pytest.mark.parametrize(
    ("prefix", "suffix", "text", "expected"),
    [
        ("x =", "", " 1", "x = 1\n"),
        ("x =", "\nprint(x)\n", " 1", "x = 1\n"),  # code on later lines does not matter
        ("f(", ")\n", "a", None),  # code follows the cursor on its line: Enter would split it
        ("x =", "", "  ", None),  # a blank suggestion predicts nothing
    ],
)
def test_the_prediction_is_the_line_after_an_accepted_suggestion(
    prefix: str, suffix: str, text: str, expected: str | None
) -> None:
    assert next_prefix(prefix, suffix, text) == expected


def test_a_prefetch_stays_useful_while_the_user_types_along_or_past_it() -> None:
    target = "x = 1\n"
    assert still_useful(target, "x = ")  # typing the suggestion
    assert still_useful(target, "x = 1\n    ")  # reached it; the auto-indent follows
    assert not still_useful(target, "x = 2")  # typed something else


def test_a_prefetched_entry_reports_its_tokens_on_its_first_hit_only() -> None:
    cache, scope = ResultCache(), Scope("t", "m", "f.py")
    cache.store(scope, "x = 1\n", "", "y = 2", prefetched=True, tokens=4)
    assert cache.holds(scope, "x = 1\n", "")
    first, again = cache.lookup(scope, "x = 1\n", ""), cache.lookup(scope, "x = 1\ny", "")
    assert first is not None
    assert again is not None
    assert (first.prefetched_tokens, again.prefetched_tokens, again.text) == (4, 0, " = 2")


def test_a_prefetch_is_admitted_behind_everything_else() -> None:
    admission = AdmissionControl(make_settings().admission)
    assert admission.admit("t", "inline").priority == INLINE
    assert admission.admit("t", "inline", background=True).priority == BACKGROUND > INLINE


@pytest.mark.model
def test_a_matching_keystroke_keeps_the_prefetch_and_enter_is_answered_from_the_cache(
    service: CompletionService,
) -> None:
    async def body(rig: Rig) -> None:
        rig.open(START[:-1])
        rig.type(START)
        rig.lane.release(all_later=True)
        shown = await rig.answered((4, 4), len(START))
        assert shown is not None
        assert shown.text.strip(), "the model suggested nothing"
        await settle()
        assert len(rig.lane.started) == 2
        prefetch = rig.lane.started[1]
        assert prefetch.background
        assert prefetch.prefix == START + shown.text + "\n"
        assert prefetch.session_id != rig.lane.started[0].session_id, "it never supersedes the user's request"
        await rig.editor.prefetches_settled()
        assert rig.editor.stats.prefetch_started == 1
        assert rig.editor.stats.prefetch_tokens > 0
        accepted = START + shown.text
        rig.type(accepted)  # the suggestion accepted: the prefetch is kept
        rig.type(accepted + "\n")  # Enter
        assert rig.editor.stats.prefetch_cancelled == 0
        line = accepted.count("\n")
        hit = await rig.answered((line, 0), len(accepted) + 1)
        assert hit is not None
        assert hit.lane == "cache"
        assert rig.editor.stats.prefetch_hits == 1
        assert len(rig.lane.started) == 2 + 1, "no request for the new line; only its own prefetch"
        stats = rig.editor.stats.as_json()
        assert stats["prefetch_wasted"] == 0

    scenario(service, body, **{"editor.prefetch": True})


@pytest.mark.model
def test_a_keystroke_that_leaves_the_prediction_cancels_the_prefetch(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open(START[:-1])
        rig.type(START)
        first = await rig.asked((4, 4), len(START))
        await settle()
        rig.lane.release()  # the user's request is answered; the prefetch will wait at the gate
        shown = await first
        assert shown is not None
        await settle()
        assert rig.lane.waiting == 1
        assert rig.lane.started[-1].background
        rig.type(START + " ")
        rig.type(START + " (")  # not what was suggested (unless it was; then the next check says so)
        await settle()
        if shown.text.startswith(" ("):
            pytest.fail(f"the model suggested {shown.text!r}; pick a keystroke it did not")
        assert rig.lane.cancelled == 1
        assert rig.editor.stats.prefetch_cancelled == 1
        assert rig.editor.stats.prefetch_hits == 0

    scenario(service, body, **{"editor.prefetch": True})
