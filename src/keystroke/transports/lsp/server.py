"""`keystroke lsp`: the language server (pygls over stdio). Handlers parse, call the editor service, map back.

- `textDocument/inlineCompletion` (LSP 3.18 ghost text): the editor service's suggestion, replacing what the
  local lane corrects (a typo) and nothing else;
- `textDocument/completion`: the local lane's items, plus, for an editor without ghost text (one that does
  not ask for inline completions), the model's suggestion as the first item when it arrives within
  `editor.completion_wait_ms` (else the list is marked incomplete, so the editor asks again);
- didOpen/didChange/didSave/didClose keep the editor service's documents (a change supersedes the document's
  pending request and cancels its generation unless the user is typing along with it);
- `$/cancelRequest` cancels the handler, and with it the generation when nobody else waits for it;
- `keystroke/stats` answers the editor service's counters (lanes, cache hits, cancellations, stale drops);
- `keystroke/status` (params `{"uri": ...}`, optional) answers what an editor's status shows: whether the
  remote lane answers (`state`: ready, unreachable, refused, overloaded or failed; `detail`) and whether the
  document is excluded from upload; the `keystroke/health` notification tells the editor when `state` changes;
- the `keystroke.accepted` command (run by the editor when the user accepts) and the document's later edits
  feed the telemetry (`services/feedback.py`), sent to the serving side every few seconds.

Positions arrive in the client's encoding (UTF-16 by default) and are converted to code points here, once.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from keystroke import __version__
from keystroke.domain.editor.edits import TextEdit, Units
from keystroke.errors import RemoteUnavailableError
from keystroke.services.editor import EditorService, Suggestion
from keystroke.services.editor.documents import Edit
from keystroke.services.local_lane import LocalItem
from keystroke.transports.lsp.framing import StreamSource, serve

log = logging.getLogger(__name__)

STATS = "keystroke/stats"
STATUS = "keystroke/status"
HEALTH = "keystroke/health"
TELEMETRY_EVERY_S = 5.0
ACCEPTED = "keystroke.accepted"
_KINDS = {
    "function": types.CompletionItemKind.Function,
    "class": types.CompletionItemKind.Class,
    "module": types.CompletionItemKind.Module,
    "keyword": types.CompletionItemKind.Keyword,
    "instance": types.CompletionItemKind.Variable,
    "statement": types.CompletionItemKind.Variable,
    "param": types.CompletionItemKind.Variable,
    "property": types.CompletionItemKind.Property,
    "path": types.CompletionItemKind.File,
    "word": types.CompletionItemKind.Text,
}


class KeystrokeProtocol(LanguageServerProtocol):
    """pygls's protocol, except that an unexpected error's answer carries no traceback and no message text
    (which may quote the document): only the exception's type, and where to look."""

    def _send_response(self, msg_id: Any, result: Any = None, error: types.ResponseError | None = None) -> None:
        if error is not None and error.code == types.ErrorCodes.InternalError and error.data is not None:
            kind = error.message.split(":", 1)[0].strip()[:80] or "error"
            error = types.ResponseError(error.code, f"internal error in keystroke ({kind}); see its log")
        super()._send_response(msg_id, result=result, error=error)


class KeystrokeServer(LanguageServer):
    def __init__(self, editor: EditorService) -> None:
        super().__init__(
            "keystroke",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=KeystrokeProtocol,
        )
        self.editor = editor
        self.background: set[asyncio.Task[Any]] = set()
        editor.health.listener = lambda health: self.protocol.notify(HEALTH, health.as_json())

    def report_server_error(self, error: Exception, source: Any) -> None:
        """An unexpected error in a handler: logged by its type only (its message may quote the document), and
        not shown to the user in a window: an editor gets no pop-up per failed keystroke."""
        log.error("%s in %s", type(error).__name__, getattr(source, "__name__", source))

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio with keystroke's defensive read loop (`framing.py`) instead of pygls's."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        source = StreamSource(stdin or sys.stdin.buffer)
        try:
            asyncio.run(serve(source, self.protocol, self.editor.settings.max_message_bytes))
        except BrokenPipeError:
            log.error("the editor closed the connection; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    def spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def build_server(editor: EditorService) -> KeystrokeServer:
    server = KeystrokeServer(editor)

    @server.feature(types.INITIALIZED)
    def initialized(ls: KeystrokeServer, _params: types.InitializedParams) -> None:
        ls.spawn(ls.editor.warm_up())
        ls.spawn(_connect(ls.editor))
        if ls.editor.root is None:  # no --workspace: the editor's workspace folder, else where it started us
            ls.editor.root = Path(ls.workspace.root_path or Path.cwd()).resolve()
        if ls.editor.settings.index_workspace:
            ls.spawn(_index_workspace(ls))
        ls.spawn(_send_telemetry(ls.editor))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: KeystrokeServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.editor.open(item.uri, item.text, item.version, item.language_id, _path(item.uri), _units(ls))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: KeystrokeServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.editor.document(uri) is not None:  # the editor's copy applies the same changes as pygls's
            ls.editor.change(uri, params.text_document.version, [_edit(change) for change in params.content_changes])

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: KeystrokeServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.editor.save(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: KeystrokeServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.editor.close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: KeystrokeServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        document, line, column, offset = _locate(ls, params.text_document.uri, params.position)
        if document is None:
            return None
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        found = await ls.editor.suggest(params.text_document.uri, (line, column), offset, invoked)
        if found is None:
            return types.InlineCompletionList(items=[])
        start = _client_position(document, line, column - found.replace)
        item = types.InlineCompletionItem(
            insert_text=found.text,
            range=types.Range(start=start, end=params.position),
            command=_accepted(params.text_document.uri, found),
        )
        return types.InlineCompletionList(items=[item])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "("]))
    async def completion(ls: KeystrokeServer, params: types.CompletionParams) -> types.CompletionList | None:
        uri = params.text_document.uri
        document, line, column, offset = _locate(ls, uri, params.position)
        if document is None:
            return None
        local = await ls.editor.local_items(uri, (line, column))
        invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        model, incomplete = None, False
        if not _shows_ghost_text(ls):  # else the model's answer is the ghost text, not a list item as well
            model, incomplete = await _model_item(ls, uri, (line, column), offset, invoked)
        word = _word_before(document.lines[line] if line < len(document.lines) else "", column)
        start = _client_position(document, line, column - len(word))
        edit_range = types.Range(start=start, end=params.position)
        items = [_local_item(item, word, edit_range, document, line, column, n) for n, item in enumerate(local)]
        if model is not None:
            items.insert(0, _model_completion(model, word, edit_range, uri))
        return types.CompletionList(is_incomplete=incomplete, items=items)

    @server.feature(STATS)
    def stats(ls: KeystrokeServer, _params: Any) -> dict[str, object]:
        return ls.editor.report()

    @server.feature(STATUS)
    def status(ls: KeystrokeServer, params: Any) -> dict[str, object]:
        uri = getattr(params, "uri", None) if params is not None else None
        return ls.editor.status(uri if isinstance(uri, str) else None)

    @server.command(ACCEPTED)
    def accepted(ls: KeystrokeServer, *arguments: Any) -> None:
        facts = arguments[0] if arguments and isinstance(arguments[0], dict) else {}
        known = ls.editor.accepted(str(facts.get("id", "")))
        log.debug("suggestion accepted (known: %s)", known)  # never the text: logs hold no code

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: KeystrokeServer, _params: Any) -> None:
        await ls.editor.aclose()

    return server


async def _connect(editor: EditorService) -> None:
    try:
        await editor.connect()
    except RemoteUnavailableError as exc:  # the local lane answers meanwhile; every request tries again
        log.warning("%s", exc)


async def _send_telemetry(editor: EditorService) -> None:
    """Send what became of suggestions every few seconds (and once more at shutdown, in `aclose`)."""
    while True:
        await asyncio.sleep(TELEMETRY_EVERY_S)
        await editor.flush_telemetry()


async def _index_workspace(ls: KeystrokeServer) -> None:
    """Index the workspace in the background, with a progress bar in editors that show one."""
    token = await _progress_token(ls, "keystroke: indexing")
    loop = asyncio.get_running_loop()

    def progress(done: int, total: int) -> None:  # called from the indexing thread
        if token is not None:
            report = types.WorkDoneProgressReport(
                message=f"{done}/{total} files", percentage=done * 100 // (total or 1)
            )
            loop.call_soon_threadsafe(ls.work_done_progress.report, token, report)

    message = "no workspace to index"
    try:
        summary = await ls.editor.index_workspace(progress)
        if summary is not None:
            message = f"{summary.files} file{'s' * (summary.files != 1)} indexed in {summary.seconds:.1f} s"
            log.info("workspace %s", message)
    except Exception as exc:  # completions go on without workspace context
        message = f"indexing failed: {exc}"
        log.warning("workspace %s", message)
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))


async def _progress_token(ls: KeystrokeServer, title: str) -> str | None:
    """A begun work-done progress, if the editor shows them (else None: the work goes on without one)."""
    window = ls.client_capabilities.window
    if window is None or not window.work_done_progress:
        return None
    token = f"keystroke-{title.split()[-1]}-{id(ls)}"
    try:
        await ls.work_done_progress.create_async(token)
    except Exception as exc:
        log.debug("the editor refused a progress bar: %s", exc)
        return None
    ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))
    return token


async def _model_item(
    ls: KeystrokeServer, uri: str, position: tuple[int, int], offset: int, invoked: bool
) -> tuple[Suggestion | None, bool]:
    """The model's suggestion if it comes within the completion wait; whether the list is incomplete."""
    wait = ls.editor.settings.completion_wait_ms / 1000
    task = asyncio.ensure_future(ls.editor.suggest(uri, position, offset, invoked))
    try:
        done, _ = await asyncio.wait({task}, timeout=wait)
    except asyncio.CancelledError:
        task.cancel()  # the list request was cancelled: so is the suggestion it waited for
        raise
    if not done:
        task.cancel()
        return None, True
    found = task.result()
    return (found if found is not None and found.lane not in ("local", "fallback") else None), False


def _locate(ls: KeystrokeServer, uri: str, position: types.Position) -> tuple[TextDocument | None, int, int, int]:
    """The document, and the position as (line, column) and offset in code points."""
    if ls.editor.document(uri) is None:
        return None, 0, 0, 0
    document = ls.workspace.get_text_document(uri)
    at = document.position_codec.position_from_client_units(
        document.lines, types.Position(position.line, position.character)
    )
    return document, at.line, at.character, document.offset_at_position(position)


def _edit(change: types.TextDocumentContentChangeEvent) -> Edit:
    """One of the client's content changes: a range and its new text, or the whole new text."""
    if isinstance(change, types.TextDocumentContentChangePartial):
        start, end = change.range.start, change.range.end
        return TextEdit((start.line, start.character), (end.line, end.character), change.text)
    return change.text


def _units(ls: KeystrokeServer) -> Units:
    """How the client counts columns: the position encoding negotiated at initialization (UTF-16 by default)."""
    negotiated = ls.workspace.position_encoding
    encoding = str(getattr(negotiated, "value", negotiated) or "utf-16")
    if encoding == "utf-8":
        return "utf-8"
    return "utf-32" if encoding == "utf-32" else "utf-16"


def _client_position(document: TextDocument, line: int, column: int) -> types.Position:
    return document.position_codec.position_to_client_units(document.lines, types.Position(line, max(0, column)))


def _accepted(uri: str, found: Suggestion) -> types.Command:
    """Runs when the user accepts: says which lane and which document version the suggestion was for."""
    ticket = found.ticket
    facts = {"uri": uri, "version": ticket.version, "position": list(ticket.position), "lane": str(found.lane)}
    arguments = [{**facts, "id": found.id}]
    return types.Command(title="keystroke: accepted", command=ACCEPTED, arguments=arguments)


def _word_before(line: str, column: int) -> str:
    start = column
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    return line[start:column]


def _local_item(
    item: LocalItem, word: str, edit_range: types.Range, document: TextDocument, line: int, column: int, rank: int
) -> types.CompletionItem:
    if item.replace and item.replace != len(word):
        start = _client_position(document, line, column - item.replace)
        edit_range = types.Range(start=start, end=edit_range.end)
    new_text = item.label if item.replace else word + item.insert
    return types.CompletionItem(
        label=item.label,
        kind=_KINDS.get(item.kind, types.CompletionItemKind.Text),
        detail=item.detail or f"keystroke ({item.source})",
        sort_text=f"1{rank:04d}",
        filter_text=new_text,
        text_edit=types.TextEdit(range=edit_range, new_text=new_text),
    )


def _shows_ghost_text(ls: KeystrokeServer) -> bool:
    """Whether the editor asks for inline completions (ghost text). VS Code, for one, hides ghost text while
    its completion list is open, so a model item there would keep the list open and the ghost text hidden."""
    text_document = ls.client_capabilities.text_document
    return text_document is not None and text_document.inline_completion is not None


def _model_completion(found: Suggestion, word: str, edit_range: types.Range, uri: str) -> types.CompletionItem:
    new_text = word + found.text
    label = new_text.strip().split("\n", 1)[0][:60] or new_text[:60]
    return types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Snippet,
        detail=f"keystroke ({found.lane})",
        documentation=new_text if "\n" in new_text else None,
        sort_text="00000",
        filter_text=new_text,
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=edit_range, new_text=new_text),
        command=_accepted(uri, found),
    )


def _path(uri: str) -> str | None:
    return to_fs_path(uri) if uri.startswith("file:") else None
