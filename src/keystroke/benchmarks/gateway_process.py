"""A real `keystroke serve` process for the hardening benchmarks, and what it uses of the machine.

`start_gateway` runs the gateway as users do (a separate process, loopback, port chosen by the system), in a
data folder of its own, with API keys for `tenants` when asked (so traffic comes from several tenants and
every route's authentication is exercised). `usage` reads the process's resident memory, open descriptors
and threads from /proc (Linux), which is what a soak watches for leaks.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from keystroke.domain.privacy.tenants import KeyStore
from keystroke.errors import EngineUnavailableError

_URL = re.compile(r"serving (http://\S+)")


@dataclass(frozen=True)
class Usage:
    rss_mb: float
    descriptors: int
    threads: int


@dataclass
class GatewayProcess:
    url: str
    process: subprocess.Popen[str]
    keys: dict[str, str] = field(default_factory=dict)  # tenant -> API key

    def usage(self) -> Usage:
        return usage(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def usage(pid: int) -> Usage:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    return Usage(int(status["VmRSS"].split()[0]) / 1024, descriptors, int(status["Threads"]))


def start_gateway(
    data_dir: Path | None,
    *,
    tenants: int = 0,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    stderr: Path | IO[Any] | None = None,
    timeout_s: float = 180.0,
) -> GatewayProcess:
    """Start `keystroke serve --port 0` keeping its data in `data_dir` (None: where the environment says), with
    keys for `tenants` tenants (t0, t1, ...) when above 0. Its log goes to `stderr`, a path or an open file
    (else nowhere)."""
    keys: dict[str, str] = {}
    if tenants:
        assert data_dir is not None, "keys need the gateway's data folder"
        store = KeyStore(data_dir / "keys.json")
        for n in range(tenants):
            keys[f"t{n}"] = store.create(f"t{n}")[1]
    command = [sys.executable, "-m", "keystroke", "serve", "--port", "0", *args]
    environment = {**os.environ, **({"KEYSTROKE_DATA_DIR": str(data_dir)} if data_dir else {}), **(env or {})}
    log = stderr.open("w") if isinstance(stderr, Path) else stderr
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True, env=environment
        )
    finally:
        if isinstance(stderr, Path) and log is not None:
            log.close()
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        found = _URL.search(line)
        if found:
            return GatewayProcess(found.group(1), process, keys)
        if not line and process.poll() is not None:
            break
    process.kill()
    process.wait()
    process.stdout.close()
    raise EngineUnavailableError(f"keystroke serve did not start (exit {process.poll()}); see its log")
