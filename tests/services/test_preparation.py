"""The preparation seam: a request is checked, redacted and revealed once per process it crosses.

In embedded mode (the language server with the engine in its process) the editor prepares the request and the
completion service takes it as it is: one redaction pass and one reveal for an inline request, counted on both
sides' redactors. A request that arrives as a plain request (the gateway's routes) is prepared by the service.
"""

from __future__ import annotations

import asyncio

import pytest

from keystroke.domain.prompt.assembly import Snippet
from keystroke.services.completion import LOCAL_TENANT, CompletionService
from keystroke.services.editor import EditorService
from keystroke.services.local_lane import LocalLane
from keystroke.services.preparation import Preparation
from keystroke.services.remote_lane import EmbeddedLane
from keystroke.services.types import CompletionRequest
from keystroke.testing import ManualClock, settle
from tests.conftest import make_settings, run

TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a GitHub token's shape
SECRET_LINE = f'GITHUB_TOKEN = "{TOKEN}"\n'


def test_one_vault_covers_prefix_and_snippets_and_excluded_paths_are_dropped() -> None:
    preparation = Preparation(make_settings())
    request = CompletionRequest(
        SECRET_LINE + "client = Client(",
        snippets=(Snippet("config.py", SECRET_LINE), Snippet(".env", "API=1\n")),
        filepath="app.py",
    )
    prepared = run(preparation.prepare(request, "t", gather=False))
    assert not prepared.excluded
    assert TOKEN not in prepared.request.prefix
    assert [s.filepath for s in prepared.request.snippets] == ["config.py"]  # .env is excluded by default
    placeholder = prepared.request.prefix.split('"')[1]
    assert prepared.request.snippets[0].body == f'GITHUB_TOKEN = "{placeholder}"\n'  # one secret, one placeholder
    assert prepared.redactions == 1
    assert prepared.reveal(f"token={placeholder}") == f"token={TOKEN}"
    assert (preparation.redactor.passes, preparation.redactor.reveals) == (1, 1)


def test_an_excluded_file_is_not_redacted_nor_given_context() -> None:
    preparation = Preparation(make_settings())
    prepared = run(preparation.prepare(CompletionRequest(SECRET_LINE, filepath="secrets/.env"), "t", gather=True))
    assert prepared.excluded
    assert prepared.request.prefix == SECRET_LINE  # it never goes anywhere: nothing to redact
    assert preparation.redactor.passes == 0


def test_the_callers_decision_on_exclusion_stands() -> None:
    preparation = Preparation(make_settings())
    # the editor decided when the document opened (its .keystrokeignore, say): no second check by name
    prepared = run(
        preparation.prepare(CompletionRequest("x = 1\n", filepath="notes.py"), "t", gather=False, excluded=True)
    )
    assert prepared.excluded


@pytest.mark.model
def test_embedded_mode_redacts_once_and_reveals_once(service: CompletionService) -> None:
    settings = make_settings(**{"editor.prefetch": False})
    served = CompletionService(service.backend, service.profile, settings)
    clock = ManualClock()
    editor = EditorService(EmbeddedLane(served, owns_backend=False), LocalLane(), settings, clock=clock)
    text = SECRET_LINE + "def add(a, b):\n    return "

    async def body() -> None:
        try:
            editor.open("file:///w/calc.py", text, 1, "python", "/w/calc.py")
            pending = asyncio.ensure_future(editor.suggest("file:///w/calc.py", (2, 11), len(text)))
            await settle()
            await clock.advance(1.0)
            found = await pending
            assert found is not None
            assert found.lane == "inline"
        finally:
            await editor.aclose()

    run(body())
    editor_side, service_side = editor.preparation.redactor, served.preparation.redactor
    assert (editor_side.passes, service_side.passes) == (1, 0)  # prepared in the editor, taken as it is
    assert editor_side.reveals + service_side.reveals == 1  # revealed where it is shown, once
    assert served.ledger.of(LOCAL_TENANT)["requests"] == 1


@pytest.mark.model
def test_a_plain_request_is_prepared_by_the_service(service: CompletionService) -> None:
    served = CompletionService(service.backend, service.profile, make_settings())
    result = run(served.complete(CompletionRequest(SECRET_LINE + "def add(a, b):\n    return ", mode="inline")))
    assert result.text
    assert (served.preparation.redactor.passes, served.preparation.redactor.reveals) == (1, 1)
