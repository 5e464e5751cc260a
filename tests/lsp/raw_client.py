"""A raw LSP peer for hostile-client tests: writes any bytes to `keystroke lsp`, reads its framed answers."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


class RawPeer:
    """`keystroke lsp` against an unreachable gateway (the local lane answers; no model loads)."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "keystroke", "lsp", "--gateway", "http://127.0.0.1:9", "--no-index"]
        environment = {**os.environ, "KEYSTROKE_EDITOR__TIMEOUT_S": "1", **(env or {})}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=environment
        )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]  # fmt: skip
        for reader in self._readers:
            reader.start()

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def frame(self, body: bytes) -> None:
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: dict[str, Any]) -> None:
        self.frame(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def request(self, request_id: int, method: str, params: Any) -> dict[str, Any]:
        self.send({"id": request_id, "method": method, "params": params})
        return self.answer(request_id)

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def answer(self, request_id: int | None, timeout: float = 30.0) -> dict[str, Any]:
        """The next answer for `request_id` (None: an answer with a null id); notifications are skipped."""
        while True:
            message = self._answers.get(timeout=timeout)
            if message is None:
                raise EOFError("the language server closed its output")
            if "id" in message and message["id"] == request_id and "method" not in message:
                return message

    def initialize(self) -> None:
        self.request(1, "initialize", {"capabilities": {}, "rootUri": None, "processId": None})
        self.notify("initialized", {})

    def resident_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024

    def close(self) -> None:
        """End the server (closing its input ends it) and release the pipes."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self._answers.put(None)
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                if line in (b"\r\n", b"\n") and length is not None:
                    break
            self._answers.put(json.loads(out.read(length)))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))
