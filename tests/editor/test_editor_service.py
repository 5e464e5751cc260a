"""The editor service on the real model, with time and the network's pace in the test's hands.

The remote lane is the real embedded engine behind a `GatedLane` (answers arrive when the test lets them), and
the clock is manual, so debounce, cancellation and staleness are driven exactly, with no sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from keystroke.domain.editor.window import window_chars
from keystroke.domain.engines.faults import DyingBackend
from keystroke.services.completion import CompletionService
from keystroke.services.editor import EditorService, Suggestion
from keystroke.services.lane_faults import GatedLane
from keystroke.services.local_lane import LocalLane
from keystroke.services.remote_lane import EmbeddedLane
from keystroke.testing import ManualClock, settle
from keystroke.transports.http.client import GatewayLane
from tests.conftest import make_settings, run

pytestmark = pytest.mark.model

URI = "file:///ws/calc.py"
TEXT = "def add(a, b):\n    return "


class Rig:
    def __init__(self, service: CompletionService, remote: Any = None, **settings: Any) -> None:
        self.clock = ManualClock()
        self.lane = GatedLane(EmbeddedLane(service))
        self.editor = EditorService(
            remote if remote is not None else self.lane,
            LocalLane(jedi_budget_ms=10_000),
            # the gate, not a timeout, decides when; prefetch has its own tests (test_prefetch.py)
            make_settings(**{"editor.timeout_s": 600, "editor.prefetch": False, **settings}),
            clock=self.clock,
            root=None,
        )
        self.version = 1

    def open(self, text: str = TEXT, uri: str = URI, path: str | None = "/ws/calc.py") -> None:
        self.editor.open(uri, text, self.version, "python", path)

    def type(self, text: str, uri: str = URI) -> None:
        self.version += 1
        self.editor.change(uri, self.version, text)

    def ask(self, uri: str = URI) -> asyncio.Task[Suggestion | None]:
        document = self.editor.document(uri)
        assert document is not None
        text = document.text
        line = text.count("\n")
        column = len(text) - (text.rfind("\n") + 1)
        return asyncio.ensure_future(self.editor.suggest(uri, (line, column), len(text)))

    async def asked(self, position: tuple[int, int], offset: int, uri: str = URI) -> asyncio.Task[Suggestion | None]:
        """An as-you-type request at `position`, with the clock moved past its debounce."""
        task = asyncio.ensure_future(self.editor.suggest(uri, position, offset))
        await settle()
        await self.clock.advance(1.0)
        return task

    async def answered(self, position: tuple[int, int], offset: int, uri: str = URI) -> Suggestion | None:
        """The answer of an as-you-type request at `position` (the gate must be open)."""
        return await (await self.asked(position, offset, uri))


def scenario(service: CompletionService, body: Callable[[Rig], Awaitable[None]], **settings: Any) -> None:
    async def main() -> None:
        rig = Rig(service, **settings)
        try:
            await body(rig)
        finally:
            rig.editor.local.close()

    run(main())


def test_an_ordinary_keystroke_waits_for_the_debounce_a_trigger_character_does_not(
    service: CompletionService,
) -> None:
    async def body(rig: Rig) -> None:
        rig.open("x = 1\ny = x")
        rig.type("x = 1\ny = x ")
        rig.type("x = 1\ny = x +")
        pending = rig.ask()
        await settle()
        assert rig.lane.started == []  # waiting out the debounce
        await rig.clock.advance(0.100)
        assert rig.lane.started == []
        await rig.clock.advance(0.060)  # 150 ms passed
        assert len(rig.lane.started) == 1
        rig.lane.release(all_later=True)
        await pending
        rig.type("x = 1\ny = x + 1\n")  # after a newline: no wait
        immediate = rig.ask()
        await settle()
        assert len(rig.lane.started) == 2
        await immediate

    scenario(service, body)


def test_a_keystroke_during_the_debounce_supersedes_the_request(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open()
        rig.type(TEXT + "a")
        first = rig.ask()
        await settle()
        rig.type(TEXT + "a ")
        assert await first is None
        assert rig.editor.stats.superseded == 1
        assert rig.lane.started == []  # it never reached the model

    scenario(service, body)


def test_a_keystroke_that_does_not_extend_the_generation_cancels_it(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open("def add(a, b):\n    return a")
        rig.type(TEXT)  # a deletion, then a request
        first = await rig.asked((1, 11), len(TEXT))
        await settle()
        assert rig.lane.waiting == 1
        rig.type("def add(a, b):\n    retur")  # backspace: the generation's text is gone
        await settle()
        assert rig.lane.cancelled == 1
        assert rig.editor.stats.cancelled == 1
        assert await first is None

    scenario(service, body)


def test_a_late_answer_for_an_older_version_is_dropped_and_typing_along_reuses_it(
    service: CompletionService,
) -> None:
    async def body(rig: Rig) -> None:
        rig.open("def add(a, b):\n    return")
        rig.type(TEXT)
        first = await rig.asked((1, 11), len(TEXT))
        await settle()
        # what the model will answer, from an ungated copy of the same lane
        expected = (await rig.lane.inner.complete(rig.lane.started[0])).text
        assert expected.strip(), "the model answered nothing to reuse"
        typed = expected[0]
        rig.type(TEXT + typed)  # the user types the generation's first character while it runs
        second = rig.ask()
        await settle()
        assert rig.lane.cancelled == 0  # kept, not cancelled
        rig.lane.release()
        assert await first is None  # computed for the older version: never shown
        assert rig.editor.stats.stale == 1
        reused = await second
        assert reused is not None
        assert (reused.lane, reused.text) == ("inflight", expected[1:])
        assert len(rig.lane.started) == 1  # no second generation

    scenario(service, body)


def test_typing_through_a_shown_suggestion_needs_no_request(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open("def add(a, b):\n    return")
        rig.type(TEXT)
        rig.lane.release(all_later=True)
        shown = await rig.answered((1, 11), len(TEXT))
        assert shown is not None
        assert len(shown.text) >= 2
        for n in range(1, len(shown.text)):
            rig.type(TEXT + shown.text[:n])
            rest = await rig.ask()
            assert rest is not None
            assert (rest.lane, rest.text) == ("cache", shown.text[n:])
        assert len(rig.lane.started) == 1
        assert rig.editor.stats.typed_through == len(shown.text) - 1

    scenario(service, body)


def test_a_retyped_context_is_a_hit_and_a_save_clears_it(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open("def add(a, b):\n    return")
        rig.type(TEXT)
        rig.lane.release(all_later=True)
        first = await rig.answered((1, 11), len(TEXT))
        assert first is not None
        rig.type(TEXT + "x")
        rig.type(TEXT)  # deleted again: the same text as before
        again = await rig.answered((1, 11), len(TEXT))
        assert again is not None
        assert (again.lane, again.text) == ("cache", first.text)
        rig.editor.save(URI)
        await rig.answered((1, 11), len(TEXT))
        assert len(rig.lane.started) == 2  # asked the model again

    scenario(service, body)


def test_an_explicit_request_asks_the_model_afresh_and_says_it_was_invoked(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open("def add(a, b):\n    return")
        rig.type(TEXT)
        rig.lane.release(all_later=True)
        automatic = await rig.answered((1, 11), len(TEXT))
        assert automatic is not None
        assert automatic.lane == "inline"
        invoked = await rig.editor.suggest(URI, (1, 11), len(TEXT), invoked=True)
        assert invoked is not None
        assert invoked.lane == "inline"  # not the cached answer: the user asked for the model's best
        assert [request.trigger for request in rig.lane.started] == ["automatic", "invoked"]

    scenario(service, body)


def test_mid_expression_both_lanes_start_and_a_local_answer_cancels_the_model(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        text = "total_price = 1\nprint(total_pr"
        rig.open(text)
        got = await rig.editor.suggest(URI, (1, 14), len(text))  # no debounce configured: both start at once
        assert got is not None
        assert (got.lane, got.text) == ("local", "ice")
        assert len(rig.lane.started) == 1  # the model was asked beside the local lane, not after it
        await settle()
        assert rig.lane.cancelled == 1  # and let go once the local answer was shown
        rig.type("total_price = 1\nprint(")  # nothing partly typed: the member list is no guess
        rig.lane.release(all_later=True)
        got = await rig.editor.suggest(URI, (1, 6), len("total_price = 1\nprint("))
        assert got is None or got.lane == "inline"  # the model's answer, or nothing worth showing
        assert len(rig.lane.started) == 2

    scenario(service, body, **{"editor.debounce_ms": 0, "editor.debounce_min_ms": 0, "editor.debounce_max_ms": 0})


def test_a_cursor_move_without_an_edit_does_not_ask_the_model(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        text = "total = 1\nvalue = total\nresult = "
        rig.open("total = 1\nvalue = total\nresult =")
        rig.type(text)
        rig.lane.release(all_later=True)
        await rig.answered((2, 9), len(text))
        assert len(rig.lane.started) == 1
        moved = await rig.answered((0, 9), len("total = 1"))  # a click at the end of the first line
        assert moved is None or moved.lane == "local"
        assert len(rig.lane.started) == 1  # nothing sent
        back = await rig.answered((2, 9), len(text))  # and back where the user was typing
        assert back is not None
        assert back.lane == "cache"
        assert len(rig.lane.started) == 1
        reasons = {reason for (_lane, reason) in rig.editor.stats.routes}
        assert "cursor moved without an edit" in reasons
        invoked = await rig.editor.suggest(URI, (0, 9), len("total = 1"), invoked=True)
        assert invoked is None or invoked.lane == "inline"
        assert len(rig.lane.started) == 2  # asked for explicitly: the model is asked wherever the cursor is

    scenario(service, body)


def test_a_workspace_index_sends_context_from_other_files(service: CompletionService, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "pricing.py").write_text("def shipping_cost(weight_kg: float) -> float:\n    return 4.5 * weight_kg\n")
    (workspace / ".env").write_text("API_TOKEN=sk-live-do-not-send\n")
    text = "from pricing import shipping_cost\n\ntotal = shipping_cost("
    path = workspace / "order.py"
    path.write_text(text)

    async def body(rig: Rig) -> None:
        rig.editor.root = workspace
        summary = await rig.editor.index_workspace()
        assert summary is not None
        assert summary.files == 2  # the .env file is never read
        rig.open(text, uri=path.as_uri(), path=str(path))
        rig.lane.release(all_later=True)
        await rig.editor.suggest(path.as_uri(), (2, len("total = shipping_cost(")), len(text), invoked=True)
        (request,) = rig.lane.started
        assert request.filepath == "order.py"
        bodies = "\n".join(snippet.body for snippet in request.snippets)
        assert "def shipping_cost(weight_kg: float)" in bodies
        assert "sk-live" not in bodies
        assert rig.editor.stats.with_context == 1

    scenario(service, body, **{"context.cache_dir": str(tmp_path / "cache"), "context.watch": False})


def test_a_paste_clears_the_files_cache(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open("def add(a, b):\n    return")
        rig.type(TEXT)
        rig.lane.release(all_later=True)
        shown = await rig.answered((1, 11), len(TEXT))
        assert shown is not None
        assert shown.lane == "inline"
        assert len(rig.editor.cache) == 1
        rig.type(TEXT + "\n# pasted\n" * 30)
        assert len(rig.editor.cache) == 0

    scenario(service, body)


def test_a_document_in_an_excluded_file_sends_nothing_upstream(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        uri = "file:///ws/.env.py"
        rig.open("API_TOKEN = 'abc'\nAPI_TOK", uri=uri, path="/ws/.env.py")
        rig.lane.release(all_later=True)
        got = await rig.answered((1, 7), len("API_TOKEN = 'abc'\nAPI_TOK"), uri)
        assert rig.lane.started == []
        assert got is not None
        assert (got.lane, got.text) == ("local", "EN")
        assert "excluded" in got.reason

    scenario(service, body)


def test_the_gateway_down_leaves_the_local_lane_answering(service: CompletionService) -> None:
    async def body(rig: Rig) -> None:
        rig.open("total_price = 1\nprint(total_pr")
        got = await (await rig.asked((1, 14), len("total_price = 1\nprint(total_pr")))
        assert got is not None
        assert (got.lane, got.text) == ("local", "ice")  # mid-call: the local lane answers first
        errors = rig.editor.stats.remote_errors  # 0 or 1: the remote lane started beside it, may have failed
        rig.type("total_price = 1\nx = total_price + ")
        got = await rig.answered((1, 18), len("total_price = 1\nx = total_price + "))
        assert rig.editor.stats.remote_errors == errors + 1
        assert got is None or got.lane == "fallback"

    closed_port = GatewayLane("http://127.0.0.1:9", timeout_s=2.0)  # nothing listens on the discard port
    scenario(service, body, remote=closed_port)


def test_an_engine_that_dies_mid_stream_leaves_the_local_lane_answering(service: CompletionService) -> None:
    dying = CompletionService(DyingBackend(service.backend, after_tokens=1), service.profile, make_settings())

    async def body(rig: Rig) -> None:
        rig.open("total_price = 1\nx = total_price + ")
        got = await rig.answered((1, 18), len("total_price = 1\nx = total_price + "))
        assert rig.editor.stats.remote_errors == 1
        assert got is None or got.lane == "fallback"

    scenario(service, body, remote=EmbeddedLane(dying))


def test_a_6_mb_file_sends_what_the_prompt_budget_can_use_and_gets_the_models_suggestion(
    service: CompletionService,
) -> None:
    huge = "".join(f"value_{n} = {n}\n" for n in range(400_000)) + TEXT  # 6.4 MB, over the 1 MB prefix limit
    window = window_chars(service.settings.prompt.budget_tokens)

    async def body(rig: Rig) -> None:
        rig.lane.release(all_later=True)
        rig.open(huge)
        found = await rig.answered((huge.count("\n"), len(TEXT) - TEXT.rfind("\n") - 1), len(huge))
        assert found is not None
        assert found.lane == "inline"  # the model's answer, not the local lane's fallback after a refusal
        (sent,) = rig.lane.started
        assert huge.endswith(sent.prefix)
        assert window // 2 <= len(sent.prefix) <= window

    scenario(service, body)


@pytest.mark.parametrize(("multiline", "mode"), [(True, "multiline"), (False, "inline")])
def test_multiline_off_asks_for_one_line_after_a_block_opener(
    service: CompletionService, multiline: bool, mode: str
) -> None:
    async def body(rig: Rig) -> None:
        text = "def add(a, b):\n    "
        rig.open(text)
        rig.lane.release(all_later=True)
        await rig.answered((1, 4), len(text))
        assert [request.mode for request in rig.lane.started] == [mode]

    scenario(service, body, **{"editor.multiline": multiline})
