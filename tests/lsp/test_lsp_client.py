"""`keystroke lsp` driven by a real LSP client (pygls') over stdio, as an editor would drive it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from keystroke.benchmarks.lsp_client import language_server, plain, stats, status
from keystroke.services.completion import CompletionService
from keystroke.testing import StallingBackend
from keystroke.transports.http.app import create_app
from tests.conftest import make_settings, run, serve_app

pytestmark = pytest.mark.model

TEXT = "import os\n\n\ndef add(a, b):\n    return "


class Editor:
    """A minimal editor: one client, documents with versions, requests that can be cancelled."""

    def __init__(self, client: LanguageClient, root: Path, log: list[str], health: list[dict[str, Any]]) -> None:
        self.client = client
        self.root = root
        self.log = log  # the server's stderr, line by line
        self.health = health  # the `keystroke/health` notifications received
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str, language: str = "python") -> str:
        uri = self.uri(name)
        self.versions[uri], self.texts[uri] = 1, text
        item = types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        return uri

    def type(self, uri: str, text: str) -> None:
        """Replace the whole text (a full-document change, as some editors send)."""
        self.versions[uri] += 1
        self.texts[uri] = text
        identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri])
        change = types.TextDocumentContentChangeWholeDocument(text=text)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(text_document=identifier, content_changes=[change])
        )

    def end(self, uri: str) -> types.Position:
        text = self.texts[uri]
        return types.Position(line=text.count("\n"), character=len(text) - (text.rfind("\n") + 1))

    def inline(self, uri: str, invoked: bool = True) -> Awaitable[Any]:
        kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=self.end(uri),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
        return self.client.text_document_inline_completion_async(params)

    async def stats(self) -> dict[str, Any]:
        return await stats(self.client)

    async def status(self, uri: str | None = None) -> dict[str, Any]:
        return await status(self.client, uri)


@contextlib.asynccontextmanager
async def started(
    root: Path,
    *args: str,
    progress: list[Any] | None = None,
    env: dict[str, str] | None = None,
    ghost_text: bool = False,
) -> AsyncIterator[Editor]:
    log: list[str] = []
    env = {
        **(env or {}),
        # a loaded CI machine may take longer than the interactive budget for Jedi: the budget is not tested here
        "KEYSTROKE_EDITOR__JEDI_BUDGET_MS": "10000",
        "KEYSTROKE_CACHE_DIR": str(root.parent / f"{root.name}-cache"),  # the index cache, outside the workspace
    }
    health: list[dict[str, Any]] = []
    async with language_server(
        args, root, env=env, on_stderr=log.append, progress=progress, health=health, ghost_text=ghost_text
    ) as client:
        yield Editor(client, root, log, health)


def drive(
    root: Path,
    body: Callable[[Editor], Awaitable[None]],
    *args: str,
    timeout_s: float = 180,
    progress: list[Any] | None = None,
    env: dict[str, str] | None = None,
    ghost_text: bool = False,
) -> None:
    async def main() -> None:
        async with started(root, *args, progress=progress, env=env, ghost_text=ghost_text) as editor:
            await asyncio.wait_for(body(editor), timeout_s)  # a hung server fails the test, not the run

    run(main())


EMBEDDED = ("--embedded", "--threads", "2")


def test_inline_completion_comes_from_the_model_and_completion_lists_local_items(tmp_path: Path) -> None:
    async def body(editor: Editor) -> None:
        uri = editor.open("calc.py", TEXT)
        result = await editor.inline(uri)
        assert result is not None
        assert len(result.items) == 1
        item = result.items[0]
        assert item.insert_text.strip()
        assert item.range.start == item.range.end == editor.end(uri)
        assert item.command.command == "keystroke.accepted"
        assert item.command.arguments[0]["version"] == 1
        editor.type(uri, TEXT.replace("return ", "return os.pa"))
        listed = await editor.client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=editor.end(uri))
        )
        labels = [i.label for i in listed.items]
        assert "path" in labels  # Jedi's member of os
        path_item = next(i for i in listed.items if i.label == "path")
        assert path_item.text_edit.new_text == "path"  # replaces the partly typed "pa"
        stats = await editor.stats()
        assert stats["sent"] >= 1
        assert stats["lanes"]

    drive(tmp_path, body, *EMBEDDED)


def test_cancel_request_stops_the_generation(tmp_path: Path, service: CompletionService) -> None:
    # the engine behind the gateway holds every generation until it is cancelled: the request is surely still
    # generating when the cancel comes, and the engine is released only if the cancel reaches it, end to end
    # ($/cancelRequest -> the handler -> the generation task -> the HTTP stream -> the gateway -> the engine)
    stalling = StallingBackend(service.backend)
    # the request's own deadline far beyond the test's waits: only the cancel can release the engine in time,
    served = CompletionService(stalling, service.profile, make_settings(**{"admission.request_timeout_ms": 600_000}))
    with serve_app(create_app(served, owns_backend=False)) as url:

        async def body(editor: Editor) -> None:
            uri = editor.open("calc.py", TEXT)
            params = types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=editor.end(uri),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
            future = editor.client.protocol.send_request("textDocument/inlineCompletion", params, msg_id="slow-1")
            await _until(lambda: served.admission.in_flight == 1)  # generating (stalled) on the engine
            assert stalling.released == 0
            editor.client.protocol.notify("$/cancelRequest", types.CancelParams(id="slow-1"))
            with pytest.raises(Exception, match="cancel"):
                await asyncio.wrap_future(future)
            await _until(lambda: stalling.released == 1)  # the engine let go of it
            await _until(lambda: served.admission.in_flight == 0)
            stats = await editor.stats()
            assert (stats["cancelled"], stats["shown"]) == (1, 0)

        # nor can the editor's own timeout on the gateway (which would close the stream too)
        drive(tmp_path, body, "--gateway", url, env={"KEYSTROKE_EDITOR__TIMEOUT_S": "600"})


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait until `condition` holds (the test polls; what it waits for does not); fails after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def test_the_model_is_a_list_item_only_for_an_editor_without_ghost_text(tmp_path: Path) -> None:
    def listed(ghost_text: bool) -> list[str]:
        models: list[str] = []  # the list's model items (the local lane's are Jedi's, buffer words, ...)

        async def body(editor: Editor) -> None:
            uri = editor.open("calc.py", "def add(a, b):\n    return a")
            params = types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=editor.end(uri)
            )
            await editor.inline(uri)  # the model's answer, now in the result cache: the list has it at once
            found = await editor.client.text_document_completion_async(params)
            models.extend(item.label for item in found.items if item.kind == types.CompletionItemKind.Snippet)

        drive(tmp_path / str(ghost_text), body, *EMBEDDED, ghost_text=ghost_text)
        return models

    assert listed(ghost_text=False)  # Neovim, Helix: the model's answer is the list's first item
    # VS Code: the model's answer is the ghost text; in its list as well, it would keep the list open over it
    assert listed(ghost_text=True) == []


def test_an_excluded_file_is_answered_locally_and_nothing_goes_upstream(tmp_path: Path) -> None:
    async def body(editor: Editor) -> None:
        uri = editor.open(".env.py", "API_TOKEN = 'x'\nAPI_TOK")
        result = await editor.inline(uri)
        assert [i.insert_text for i in result.items] == ["EN"]
        stats = await editor.stats()
        assert stats["sent"] == 0
        assert stats["routes"] == [{"lane": "local", "reason": "file excluded from upload", "count": 1}]
        # the editor's status says so for this file, and only for it
        assert (await editor.status(uri))["excluded"] is True
        assert (await editor.status(editor.open("app.py", "x = 1\n")))["excluded"] is False
        assert (await editor.status())["excluded"] is None

    drive(tmp_path, body, *EMBEDDED)


def test_with_the_gateway_down_the_local_lane_still_answers(tmp_path: Path) -> None:
    async def body(editor: Editor) -> None:
        uri = editor.open("app.py", "shipping_cost = 4\ntotal = 1\nx = shipping_cost + ")
        result = await editor.inline(uri)
        # the model is unreachable: the local lane answers in its place (its first word, not a good guess here)
        assert [item.command.arguments[0]["lane"] for item in result.items] == ["fallback"]
        editor.type(uri, "shipping_cost = 4\ntotal = 1\nx = shipping_c")
        result = await editor.inline(uri)
        assert [i.insert_text for i in result.items] == ["ost"]
        stats = await editor.stats()
        assert stats["remote_errors"] >= 1
        # the editor's status says why, once: two failed requests are one change of state
        found = await editor.status(uri)
        assert (found["state"], found["excluded"]) == ("unreachable", False)
        assert "127.0.0.1:9" in found["detail"]
        assert [change["state"] for change in editor.health] == ["unreachable"]

    drive(tmp_path, body, "--gateway", "http://127.0.0.1:9")


def test_the_workspace_is_indexed_with_a_progress_bar_and_feeds_context(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "pricing.py").write_text("def shipping_cost(weight_kg):\n    return 4.5 * weight_kg\n")
    progress: list[Any] = []

    async def body(editor: Editor) -> None:
        for _ in range(600):  # indexing runs in the background: wait until it is done
            if (await editor.stats())["workspace_indexed"]:
                break
            await asyncio.sleep(0.1)
        uri = editor.open("order.py", "from pricing import shipping_cost\n\ntotal = shipping_cost(")
        await editor.inline(uri)
        stats = await editor.stats()
        assert stats["workspace_indexed"]
        assert stats["with_context"] == 1

    drive(workspace, body, *EMBEDDED, progress=progress)
    values = [plain(value) for value in progress]
    assert values[0]["kind"] == "begin"
    assert values[-1]["kind"] == "end"
    assert values[-1]["message"].startswith("1 file indexed")
