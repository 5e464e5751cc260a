"""Gateways for the fuzz tests (keyless, and with keys), and the tally of what they answered.

The tally is printed at the end of the run (`pytest_terminal_summary`), so the counts of responses by status
are in CI's output: the issue asks for them, and a fuzz run that sent nothing must not look like a pass.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keystroke.domain.privacy.tenants import KeyStore
from tests.conftest import Gateway, start_gateway, stop_gateway

TALLY: dict[str, Counter[int]] = {}


@dataclass
class KeyedGateway:
    gateway: Gateway
    key: str  # an ordinary tenant's
    admin_key: str


@pytest.fixture(scope="module")
def keyless_gateway() -> Iterator[Gateway]:
    """`keystroke serve` without keys, with a data folder of its own (its telemetry files are counted)."""
    with tempfile.TemporaryDirectory(prefix="keystroke-fuzz-") as data:
        started = start_gateway(env={"KEYSTROKE_DATA_DIR": data})
        yield started
        stop_gateway(started)


@pytest.fixture(scope="module")
def keyed_gateway() -> Iterator[KeyedGateway]:
    """`keystroke serve` with a key file: an ordinary tenant and an admin tenant."""
    with tempfile.TemporaryDirectory(prefix="keystroke-fuzz-keys-") as data:
        keys = KeyStore(Path(data) / "keys.json")
        _, key = keys.create("acme")
        _, admin_key = keys.create("ops")
        keys.update_tenant("ops", admin=True)
        started = start_gateway(env={"KEYSTROKE_DATA_DIR": data})
        yield KeyedGateway(started, key, admin_key)
        stop_gateway(started)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for name, counts in sorted(TALLY.items()):
        shown = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        server_errors = sum(n for status, n in counts.items() if status >= 500)
        terminalreporter.write_line(
            f"fuzz {name}: {sum(counts.values())} responses ({shown}); {server_errors} with status >= 500"
        )
