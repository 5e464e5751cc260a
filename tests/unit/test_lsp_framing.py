"""The language server's read loop: framing over any chunking, any garbage, and one answer per bad request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pygls.lsp.server import LanguageServer

from keystroke.transports.lsp.framing import Frame, dispatch, frames


class ChunkedSource:
    """A stream that hands out at most `chunk` bytes per read, as a pipe might."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk = data, chunk

    async def readline(self, limit: int) -> bytes:
        end = self.data.find(b"\n")
        size = min(limit, len(self.data) if end < 0 else end + 1)
        line, self.data = self.data[:size], self.data[size:]
        return line

    async def read(self, size: int) -> bytes:
        piece = b""
        while len(piece) < size and self.data:  # a blocking read returns all it was asked for, or the end
            take = min(self.chunk, size - len(piece))
            piece, self.data = piece + self.data[:take], self.data[take:]
        return piece


def collect(data: bytes, chunk: int, limit: int) -> list[Frame]:
    async def main() -> list[Frame]:
        return [frame async for frame in frames(ChunkedSource(data, chunk), limit)]

    return asyncio.run(main())


HEADER_NAMES = st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH"])


@given(st.lists(st.tuples(st.binary(max_size=200), HEADER_NAMES, st.booleans()), max_size=8), st.integers(1, 64))
def test_framed_bodies_come_back_as_they_were_sent_however_the_bytes_are_cut(
    messages: list[tuple[bytes, bytes, bool]], chunk: int
) -> None:
    stream = b""
    for body, name, typed in messages:
        extra = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" if typed else b""
        stream += name + b": %d\r\n" % len(body) + extra + b"\r\n" + body
    assert [frame.body for frame in collect(stream, chunk, 1 << 20)] == [body for body, _, _ in messages]


@given(st.binary(max_size=2000), st.integers(1, 64))
@settings(max_examples=300)
def test_any_bytes_end_the_stream_without_an_exception(data: bytes, chunk: int) -> None:
    for frame in collect(data, chunk, 256):
        assert frame.body is None or len(frame.body) <= 256


def test_an_oversized_body_is_skipped_whole_and_the_next_message_read() -> None:
    big = b'{"jsonrpc": "2.0", "id": 7, "method": "x", "params": "' + b"a" * 5000 + b'"}'
    small = b'{"jsonrpc": "2.0", "method": "y"}'
    stream = b"Content-Length: %d\r\n\r\n" % len(big) + big + b"Content-Length: %d\r\n\r\n" % len(small) + small
    skipped, read = collect(stream, 1000, 1024)
    assert (skipped.body, skipped.size, skipped.head[:10]) == (None, len(big), big[:10])
    assert read.body == small


class Recorder(LanguageServer):
    """A bare pygls server whose answers are kept instead of written."""

    def __init__(self) -> None:
        super().__init__("recorder", "0")
        self.sent: list[Any] = []
        self.protocol._send_data = self.sent.append  # type: ignore[method-assign]


JSON_LEAVES = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
POSITIONS = st.fixed_dictionaries({"line": st.integers(-5, 5), "character": st.integers(-5, 5)})
PARAMS = JSON_VALUES | st.fixed_dictionaries(
    {"textDocument": st.fixed_dictionaries({"uri": st.text(max_size=20)}), "position": POSITIONS}
)
METHODS = st.sampled_from(
    ["textDocument/inlineCompletion", "textDocument/completion", "keystroke/stats", "keystroke/status", "no/such"]
)


@given(st.integers(1, 10**6), METHODS, PARAMS)
@settings(max_examples=300)
def test_every_request_gets_exactly_one_answer_with_its_id(request_id: int, method: str, params: Any) -> None:
    server = Recorder()
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    dispatch(Frame(body, len(body)), server.protocol, 1 << 20)
    (answer,) = server.sent
    answered = answer["id"] if isinstance(answer, dict) else answer.id
    assert answered == request_id
