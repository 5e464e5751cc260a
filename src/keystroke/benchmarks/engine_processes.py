"""Real engine replicas for tests and benchmarks: stock `python -m llama_cpp.server` processes on loopback.

llama-cpp-python's own OpenAI-compatible server (installed with `llama-cpp-python[server]`) speaks the same
`/v1/completions` protocol as vLLM, SGLang and llama-server, so a fleet of them on one machine exercises the
remote backend, its routing and its failover for real. `kill()` is a crash; `pause()` (SIGSTOP) a hang.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from keystroke.errors import EngineUnavailableError


@dataclass
class EngineProcess:
    url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """Crash the replica (SIGKILL): open connections break mid-stream."""
        self.process.kill()
        self.process.wait()

    def pause(self) -> None:
        """Hang the replica (SIGSTOP): connections stay open and nothing arrives."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llama_server(model: Path, *, threads: int = 1, n_ctx: int = 2048, timeout_s: float = 120.0) -> EngineProcess:
    """Start a stock llama_cpp.server for `model` and wait until it answers `/v1/models`."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = EngineProcess(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailableError(
                f"llama_cpp.server exited with {process.returncode}; is llama-cpp-python[server] installed?"
            )
        try:
            if httpx.get(f"{engine.url}/v1/models", timeout=1.0).status_code == 200:
                return engine
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    engine.stop()
    raise EngineUnavailableError(f"llama_cpp.server did not answer within {timeout_s:.0f} s")
