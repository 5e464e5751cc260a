"""keystroke's own gateway client speaks the wire protocol the routes read; what it cannot send is an error the
editor answers around (the local lane), not a crash."""

from __future__ import annotations

import pytest

from keystroke.errors import RemoteUnavailableError
from keystroke.services.preparation import Preparation
from keystroke.services.types import CompletionRequest
from keystroke.transports.http.client import GatewayLane
from keystroke.transports.http.wire import CompletionBody
from tests.conftest import make_settings, run


def test_the_client_body_reads_back_as_the_same_request() -> None:
    request = CompletionRequest("x = ", "\n", "python", "a.py", mode="inline", session_id="s", trigger="automatic",
                                background=True, max_tokens=8)  # fmt: skip
    body = CompletionBody.of(request).to_json()
    assert body["stream"] is True
    assert CompletionBody.model_validate(body).to_request() == request


def test_a_request_the_protocol_cannot_carry_is_a_remote_error_naming_the_field() -> None:
    async def ask() -> None:
        lane = GatewayLane("http://127.0.0.1:9")  # never reached: the request is refused before sending
        request = CompletionRequest("x = ", session_id="lsp:file:///" + "d/" * 200 + "a.py")
        prepared = await Preparation(make_settings()).prepare(request, "t", gather=False)
        try:
            await lane.complete(prepared)
        finally:
            await lane.aclose()

    with pytest.raises(RemoteUnavailableError, match="session_id"):
        run(ask())
