"""The leak test: 68 fake secrets in 17 formats, planted in the current file (before and after the cursor) and in
workspace files, typed into a real language server that asks a real gateway process through a recording proxy.

None of them may appear in the bytes the gateway received, in any log line of either process (debug level), or
in the gateway's audit store.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from pathlib import Path

from lsprotocol import types

from keystroke.benchmarks.lsp_client import language_server, stats
from keystroke.benchmarks.secrets_corpus import corpus
from keystroke.domain.privacy.tenants import KeyStore
from tests.conftest import run, start_gateway, stop_gateway


class RecordingProxy:
    """A loopback TCP proxy that keeps every byte the client sent to the server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.received = bytearray()
        self._sockets: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    self.received += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._server.close()
        for connection in self._sockets:
            connection.close()


def test_no_planted_secret_reaches_the_gateway_its_logs_or_its_audit_store(tmp_path: Path) -> None:
    planted = corpus()
    secrets = [p.secret for p in planted]
    workspace, data = tmp_path / "project", tmp_path / "data"
    workspace.mkdir()
    (workspace / "settings.py").write_text("\n".join(p.code for p in planted[0::3]) + "\n")
    (workspace / "clients.py").write_text("\n".join(p.code for p in planted[1::3]) + "\n")
    before = "\n".join(p.code for p in planted[2::3][:10])
    after = "\n".join(p.code for p in planted[2::3][10:])
    _, key = KeyStore(data / "keys.json").create("acme")
    env = {"KEYSTROKE_DATA_DIR": str(data)}
    log_file = tmp_path / "gateway.log"
    with log_file.open("w") as gateway_log:
        gateway = start_gateway("--log-level", "debug", env=env, stderr=gateway_log)
        proxy = RecordingProxy(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])))
        lsp_log: list[str] = []
        try:
            run(_type_and_ask(workspace, f"http://127.0.0.1:{proxy.port}", key, before, after, lsp_log))
        finally:
            proxy.close()
            stop_gateway(gateway)
    received = bytes(proxy.received).decode("utf-8", "replace")
    assert "POST /v1/completions" in received  # the proxy saw the traffic it vouches for
    assert "<SECRET_1>" in received  # the requests carried the code, with placeholders
    logs = log_file.read_text() + "\n".join(lsp_log)
    assert "DEBUG" in logs  # debug logging was on
    audit = (data / "audit.sqlite3").read_bytes() + _wal(data)
    for secret in secrets:
        assert secret not in received, secret[:12]
    for secret in [*secrets, key]:  # the key travels in its header, and must go nowhere else
        assert secret not in logs, secret[:12]
        assert secret.encode() not in audit, secret[:12]


async def _type_and_ask(workspace: Path, url: str, key: str, before: str, after: str, log: list[str]) -> None:
    env = {
        "KEYSTROKE_EDITOR__KEY": key,
        "KEYSTROKE_EDITOR__JEDI_BUDGET_MS": "10000",
        "KEYSTROKE_CACHE_DIR": str(workspace.parent / "cache"),
    }
    args = ["--gateway", url, "--log-level", "debug"]
    async with language_server(args, workspace, env=env, on_stderr=log.append) as client:
        deadline = asyncio.get_running_loop().time() + 60
        while not (await stats(client))["workspace_indexed"]:  # context is sent once the index is ready
            assert asyncio.get_running_loop().time() < deadline, "the workspace was not indexed within 60 s"
            await asyncio.sleep(0.05)
        uri = (workspace / "billing.py").as_uri()
        head = f"{before}\n\ndef charge(customer, amount):\n    "
        text = head + f"\n\n{after}\n"
        item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        for version, typed in enumerate(["return ", "stripe", "."], start=2):
            head += typed
            text = head + f"\n\n{after}\n"
            identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
            change = types.TextDocumentContentChangeWholeDocument(text=text)
            client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
            line = head.count("\n")
            position = types.Position(line=line, character=len(head) - head.rfind("\n") - 1)
            params = types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=position,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
            await asyncio.wait_for(client.text_document_inline_completion_async(params), 120)
        counters = await stats(client)
        assert counters["sent"] >= 1
        assert counters["with_context"] >= 1  # workspace files went into the requests too


def _wal(folder: Path) -> bytes:
    wal = folder / "audit.sqlite3-wal"
    return wal.read_bytes() if wal.exists() else b""
