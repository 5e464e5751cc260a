"""`keystroke lsp` against a careless or hostile editor: every request answered, the process never brought down.

A raw peer writes bytes no real client library would (a negative position, a 1 TB Content-Length, JSON nested
20,000 deep, a lone surrogate in an edit) and reads the framed answers. No model: the gateway is unreachable,
so the local lane answers, which is all these tests need.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError

from keystroke.transports.lsp.server import KeystrokeProtocol
from tests.lsp.raw_client import RawPeer

URI = "file:///work/a.py"


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[RawPeer]:
    started = RawPeer(tmp_path, env={"KEYSTROKE_EDITOR__MAX_MESSAGE_BYTES": str(1 << 20)})
    started.initialize()
    started.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python", "version": 1,
                                                             "text": "import os\nos.pa"}})  # fmt: skip
    yield started
    started.close()


def inline(line: int, character: int) -> dict[str, object]:
    return {"textDocument": {"uri": URI}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 1}}  # fmt: skip


def test_7_a_request_whose_params_do_not_fit_is_answered_invalid_params(peer: RawPeer) -> None:
    answer = peer.request(2, "textDocument/inlineCompletion", inline(-1, 0))
    assert answer["error"]["code"] == types.ErrorCodes.InvalidParams
    assert "result" in peer.request(3, "textDocument/inlineCompletion", inline(1, 5))  # still serving


def test_7_unreadable_json_is_a_parse_error_with_a_null_id_and_the_server_goes_on(peer: RawPeer) -> None:
    peer.frame(b"[" * 20_000 + b"]" * 20_000)
    assert peer.answer(None)["error"]["code"] == types.ErrorCodes.ParseError
    peer.frame(b'{"jsonrpc": "2.0", "id": 4, "method": ')
    assert peer.answer(None)["error"]["code"] == types.ErrorCodes.ParseError
    peer.frame(b"[1, 2]")
    assert peer.answer(None)["error"]["code"] == types.ErrorCodes.InvalidRequest
    assert "result" in peer.request(5, "textDocument/inlineCompletion", inline(1, 5))


def test_7_a_message_over_the_limit_is_skipped_and_its_request_answered(peer: RawPeer) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 6, "method": "textDocument/completion",
                       "params": {"padding": "x" * (2 << 20)}}).encode()  # fmt: skip
    peer.frame(body)
    answer = peer.answer(6)
    assert answer["error"]["code"] == types.ErrorCodes.InvalidRequest
    assert "over the limit" in answer["error"]["message"]
    assert "result" in peer.request(7, "textDocument/inlineCompletion", inline(1, 5))


def test_7_a_terabyte_content_length_does_not_allocate_it(peer: RawPeer) -> None:
    peer.write(b"Content-Length: 1099511627776\r\n\r\n")
    time.sleep(2.0)
    assert peer.process.poll() is None
    assert peer.resident_mb() < 500


def test_7_a_lone_surrogate_inserted_by_an_edit_does_not_break_the_document(peer: RawPeer) -> None:
    edit = (b'{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": "'
            + URI.encode() + b'", "version": 2}, "contentChanges": [{"range": {"start": {"line": 1, "character": 5},'
            b' "end": {"line": 1, "character": 5}}, "text": "\\ud800th"}]}}')  # fmt: skip
    peer.frame(edit)
    answer = peer.request(8, "textDocument/inlineCompletion", inline(1, 8))
    assert "error" not in answer, answer
    listed = peer.request(
        9, "textDocument/completion", {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 8}}
    )
    assert "error" not in listed, listed


def test_7_a_request_after_shutdown_is_answered(peer: RawPeer) -> None:
    assert "error" not in peer.request(10, "shutdown", None)
    after = peer.request(11, "textDocument/inlineCompletion", inline(1, 5))
    assert after["error"]["code"] == types.ErrorCodes.InvalidRequest
    peer.notify("exit", None)
    assert peer.process.wait(timeout=20) == 0


def test_7_an_internal_error_answer_carries_no_traceback_and_no_message_text() -> None:
    sent: list[types.ResponseErrorMessage] = []
    protocol = KeystrokeProtocol.__new__(KeystrokeProtocol)  # only its answering path is exercised
    protocol._send_data = sent.append  # type: ignore[method-assign]
    try:
        {"secret_code": 1}["password = 'hunter2'"]
    except KeyError:
        error = JsonRpcInternalError.of(sys.exc_info()).to_response_error()
    assert error.data is not None
    assert "hunter2" in error.message
    protocol._send_response(12, error=error)
    (answer,) = sent
    assert answer.error.data is None
    assert answer.error.message == "internal error in keystroke (KeyError); see its log"


def test_7_status_with_odd_params_is_answered_and_the_server_goes_on(peer: RawPeer) -> None:
    for n, params in enumerate(({"uri": 5}, [1, 2], None, {"uri": "file:///nowhere.py"}, {"uri": URI})):
        answer = peer.request(10 + n, "keystroke/status", params)
        assert "result" in answer, answer  # odd params are read as "no document"
    assert answer["result"]["excluded"] is False  # the open document, asked properly
    assert answer["result"]["state"] in ("ready", "unreachable")
    assert "result" in peer.request(20, "textDocument/inlineCompletion", inline(1, 5))
