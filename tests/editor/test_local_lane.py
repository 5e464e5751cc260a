"""The local lane with real Jedi: members, buffer words for any language, typo fixes."""

from __future__ import annotations

import asyncio

from keystroke.services.local_lane import LocalLane, LocalQuery, complete_locally, jedi_call, jedi_window

CODE = "import os\nfrom pathlib import Path\n\ntotal_price = 3\n\n\ndef f(p: Path):\n    p.re"


def test_jedi_lists_the_members_after_a_dot() -> None:
    items = complete_locally(LocalQuery(CODE, 7, 8, "python", "/tmp/x.py"))
    by_label = {item.label: item for item in items}
    assert "read_text" in by_label
    assert by_label["read_text"].insert == "ad_text"
    assert by_label["read_text"].source == "jedi"
    assert all(not label.startswith("__") for label in by_label)


def test_buffer_words_answer_for_any_language() -> None:
    text = "let shippingCost = 4;\nlet total = shippi"
    items = complete_locally(LocalQuery(text, 1, len("let total = shippi"), "javascript", others=("shippingZone",)))
    assert [(i.label, i.insert, i.source) for i in items] == [
        ("shippingCost", "ngCost", "words"),
        ("shippingZone", "ngZone", "words"),
    ]


def test_a_near_miss_identifier_gets_its_fix() -> None:
    items = complete_locally(LocalQuery("x = 1\npritn", 1, 5, "python"))
    assert [(i.label, i.insert, i.replace, i.source) for i in items] == [("print", "print", 5, "typo")]
    words = complete_locally(LocalQuery("quantity = 2\nqunatity", 1, 8, "ruby"))
    assert [(i.label, i.replace, i.detail) for i in words] == [("quantity", 8, "qunatity -> quantity")]


def test_broken_code_still_gets_an_answer() -> None:
    items = complete_locally(LocalQuery("def (:\n  total_price = 1\n  tot", 2, 5, "python"))
    assert "total_price" in {item.label for item in items}


def test_the_lane_warms_up_and_answers_off_the_event_loop() -> None:
    lane = LocalLane(jedi_budget_ms=10_000)  # a loaded CI machine: the budget is not what is tested here

    async def run() -> list[str]:
        await lane.warm_up()
        return [item.label for item in await lane.complete(LocalQuery("import os\nos.pa", 1, 5, "python"))]

    try:
        labels = asyncio.run(run())
    finally:
        lane.close()
    assert lane.warm
    assert "path" in labels


def test_jedi_reads_the_imports_and_the_lines_before_the_cursor() -> None:
    text = "import os\nfrom a import (\n    b,\n)\nx = f(1)\n" + "y = 1\n" * 300 + "os.pa"
    source, line = jedi_window(text, text.count("\n"), before=10)
    assert source.split("\n")[:4] == ["import os", "from a import (", "    b,", ")"]
    assert "x = f(1)" not in source  # a call with a parenthesis is not an import
    assert source.split("\n")[line] == "os.pa"
    assert source.count("\n") == 4 + 10


def test_a_slow_jedi_is_not_waited_for_and_the_words_answer() -> None:
    lane = LocalLane(jedi_budget_ms=0.001)

    async def run() -> list[str]:
        query = LocalQuery("total_price = 1\nimport os\nos.pa\ntot", 3, 3, "python")
        items = await lane.complete(query)
        return [item.label for item in items]

    try:
        labels = asyncio.run(run())
    finally:
        lane.close()
    assert labels == ["total_price"]
    assert lane.jedi_late == 1


def test_jedi_is_asked_at_the_start_of_the_word_so_typing_it_keeps_the_call() -> None:
    typed = [LocalQuery(CODE + more, 7, 8 + len(more), "python", "/tmp/x.py") for more in ("", "a", "ad_t")]
    calls = {jedi_call(query, "re" + more) for query, more in zip(typed, ("", "a", "ad_t"), strict=True)}
    assert len(calls) == 1
    (call,) = calls
    assert call.source.endswith("def f(p: Path):\n    p.")
    assert (call.line, call.column) == (8, 6)
    elsewhere = jedi_call(LocalQuery(CODE.replace("p: Path", "p: str"), 7, 8, "python", "/tmp/x.py"), "re")
    assert elsewhere != call  # other code above: another call


def test_typing_a_member_filters_the_kept_answer_without_calling_jedi_again() -> None:
    lane = LocalLane(jedi_budget_ms=10_000)

    async def run() -> list[list[str]]:
        answers = []
        for more in ("", "a", "ad_t"):
            items = await lane.complete(LocalQuery(CODE + more, 7, 8 + len(more), "python", "/tmp/x.py"))
            answers.append([item.label for item in items if item.source == "jedi"])
        return answers

    try:
        first, second, third = asyncio.run(run())
    finally:
        lane.close()
    assert lane.jedi_calls == 1
    assert lane.jedi_kept == 2
    assert {"read_text", "rename"} <= set(first)
    assert "read_text" in second
    assert "rename" not in second
    assert third == ["read_text"]


def test_a_late_jedi_answer_is_kept_for_the_next_keystroke() -> None:
    lane = LocalLane(jedi_budget_ms=0.001)

    async def run() -> list[str]:
        await lane.complete(LocalQuery(CODE, 7, 8, "python", "/tmp/x.py"))
        await lane.settled()  # the slow call finishes in the background
        items = await lane.complete(LocalQuery(CODE + "a", 7, 9, "python", "/tmp/x.py"))
        return [item.label for item in items]

    try:
        labels = asyncio.run(run())
    finally:
        lane.close()
    assert lane.jedi_late == 1
    assert lane.jedi_calls == 1
    assert "read_text" in labels
