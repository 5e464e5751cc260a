"""`keystroke serve --workspace`: the gateway collects context itself and follows file changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.fixtures.workspace import write_workspace

pytestmark = pytest.mark.model

PREFIX = "from shop.shipping import shipping_cost\n\n\ndef checkout(cart):\n    fee = shipping_cost(cart)\n    return "


@pytest.fixture(scope="module")
def workspace_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Path]]:
    root = write_workspace(tmp_path_factory.mktemp("served") / "ws")
    cache = tmp_path_factory.mktemp("cache")
    # a loaded CI machine may miss the sources' interactive time budgets: the budgets are not what is tested here
    sources = ("DEFINITIONS", "RECENT_EDITS", "NEIGHBOURS", "RETRIEVAL")
    budgets = {f"KEYSTROKE_CONTEXT__{source}_MS": "5000" for source in sources}
    started = start_gateway("--workspace", str(root), env={"KEYSTROKE_CACHE_DIR": str(cache), **budgets})
    yield started, root
    stop_gateway(started)


def definitions_found(gateway: Gateway, session: str) -> int:
    body = {
        "language": "python",
        "segments": {"prefix": PREFIX, "suffix": "\n", "filepath": "shop/checkout.py"},
        "session_id": session,
        "max_tokens": 4,
    }
    with gateway.client() as client:
        answer = client.post("/v1/completions", json=body).json()
    assert answer["context"]["depth"] == "full"
    return next(s["items"] for s in answer["context"]["sources"] if s["source"] == "definitions")


def test_the_gateway_collects_context_for_files_of_its_workspace(workspace_gateway: tuple[Gateway, Path]) -> None:
    gateway, _ = workspace_gateway
    body = {
        "language": "python",
        "segments": {"prefix": "from shop.pricing import apply_discount\n\nx = apply_discount(", "filepath": "a.py"},
    }
    with gateway.client() as client:
        answer = client.post("/v1/completions", json=body).json()
    assert answer["context"]["depth"] == "full"
    assert answer["context"]["snippets"] >= 1
    assert [s["source"] for s in answer["context"]["sources"]] == [
        "definitions",
        "recent_edits",
        "neighbours",
        "retrieval",
    ]


def test_a_new_file_is_indexed_while_serving(workspace_gateway: tuple[Gateway, Path]) -> None:
    gateway, root = workspace_gateway
    assert definitions_found(gateway, "before") == 0
    (root / "shop" / "shipping.py").write_text("def shipping_cost(cart):\n    return 4.5\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if definitions_found(gateway, f"after-{time.monotonic()}") == 1:
            return
        time.sleep(0.5)
    pytest.fail("the watcher did not index shop/shipping.py within 30 s")
