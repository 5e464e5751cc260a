"""`POST /infill`, compatible with llama-server's, so llama.vim and llama.vscode work against keystroke unchanged.

The request's `input_prefix` + `prompt` (llama.vim sends the current line up to the cursor as `prompt`) is the
code before the cursor, `input_suffix` the code after it, and `input_extra` (`[{filename, text}]`) becomes
context snippets. `n_predict` caps the tokens (0: no generation, the answer is empty, as llama.vim's cache
warm-up requests expect). `t_max_predict_ms` stops a multi-line answer at its next complete line once that
much time has passed since the first line. Sampling fields (`top_k`, `samplers`, ...) are accepted and
ignored: keystroke decodes greedily.

The answer has llama-server's shape: `content`, `stop`, `tokens_cached`, `tokens_predicted`, `truncated` and
`timings` (prompt_n, prompt_ms, predicted_n, predicted_ms, per-token and per-second rates); with
`response_fields` only the listed paths, flattened as llama-server does (`"timings/prompt_n"`). With
`stream: true` it is Server-Sent Events of `data: {"content": ..., "stop": false}` per line, then one with
`stop: true` and the figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from keystroke.domain.prompt.assembly import Snippet
from keystroke.domain.sse import frame
from keystroke.services.completion import Admitted, CompletionService
from keystroke.services.types import CompletionRequest, CompletionResult, Delta, Finished, FirstAction
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.disconnect import CLIENT_CLOSED, until_disconnected
from keystroke.transports.http.errors import ENGINE, JSON_BODY, error_responses
from keystroke.transports.http.parsing import parse_model, read_json
from keystroke.transports.http.sse import guarded

INT32_MAX = 2**31 - 1  # llama-server's fields are 32-bit


class _Loose(BaseModel):
    # llama.vim and llama.vscode send many sampling fields keystroke does not use: accepted and ignored
    model_config = ConfigDict(strict=True, extra="ignore")


class ExtraChunk(_Loose):
    filename: str = Field("", max_length=4096)
    text: str


class InfillBody(_Loose):
    input_prefix: str = ""
    input_suffix: str = ""
    input_extra: list[ExtraChunk] = Field(default_factory=list)
    prompt: str = Field("", description="Text after the prefix (llama.vim: the current line up to the cursor).")
    n_predict: int = Field(
        -1, ge=-1, le=INT32_MAX, description="Token cap (at most limits.max_tokens); -1: the default; 0: none."
    )
    stream: bool = False
    t_max_predict_ms: float | None = Field(None, ge=0, le=3_600_000)
    response_fields: list[str] | None = Field(None, max_length=64)

    def to_request(self, max_tokens_limit: int) -> CompletionRequest:
        snippets = tuple(Snippet(chunk.filename or "extra", chunk.text) for chunk in self.input_extra if chunk.text)
        return CompletionRequest(
            prefix=self.input_prefix + self.prompt,
            suffix=self.input_suffix,
            snippets=snippets,
            max_tokens=min(self.n_predict, max_tokens_limit) if self.n_predict > 0 else None,
            trigger="automatic",
        )


def register_infill(app: FastAPI, service: CompletionService, auth: Authenticator, definitions: dict[str, Any]) -> None:
    """Add the route; its body's nested schemas go into `definitions` (the document's components)."""
    limits = service.settings.limits
    schema = InfillBody.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions.update(schema.pop("$defs", {}))

    @app.post(
        "/infill",
        tags=["llama-server compatible"],
        responses={
            **error_responses(*JSON_BODY, *ENGINE),
            200: {"content": {"text/event-stream": {}}, "description": "With `stream: true`, Server-Sent Events."},
        },
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}},
    )
    async def infill(request: Request) -> Any:
        """llama-server's infill endpoint (for llama.vim and llama.vscode)."""
        tenant = auth.tenant(request)
        body = parse_model(await read_json(request, limits.max_body_bytes), InfillBody)
        if body.n_predict == 0:
            return JSONResponse(_shape(_answer("", None), body.response_fields))
        events = service.stream(body.to_request(limits.max_tokens), tenant)
        lines = _within_time(events, body.t_max_predict_ms)
        if body.stream:
            return StreamingResponse(_sse(lines, body.response_fields), media_type="text/event-stream")
        answer = await until_disconnected(request, _collect(lines))
        if answer is None:
            return Response(status_code=CLIENT_CLOSED)
        return JSONResponse(_shape(_answer(*answer), body.response_fields))


async def _collect(lines: AsyncIterator[tuple[str, CompletionResult | None]]) -> tuple[str, CompletionResult | None]:
    text, result = "", None
    async for piece, finished in lines:
        text += piece
        result = finished or result
    return text, result


async def _within_time(events: Admitted, limit_ms: float | None) -> AsyncIterator[tuple[str, CompletionResult | None]]:
    """(text, None) per shown line, then ("", result); lines after `limit_ms` past the first are not waited
    for (closing the stream cancels the generation)."""
    first_at: float | None = None
    try:
        async for event in events:
            if isinstance(event, FirstAction):
                first_at = time.perf_counter()
                yield event.text, None
            elif isinstance(event, Delta):
                yield event.text, None
            elif isinstance(event, Finished):
                yield "", event.result
                return
            if limit_ms is not None and first_at is not None and (time.perf_counter() - first_at) * 1000 > limit_ms:
                yield "", None
                return
    finally:
        await events.aclose()


def _sse(lines: AsyncIterator[tuple[str, CompletionResult | None]], fields: list[str] | None) -> AsyncIterator[bytes]:
    """A frame per shown line, then the figures; an error in-band, as llama-server sends it."""
    return guarded(_frames(lines, fields), lambda detail: _data({"error": detail.model_dump()}))


async def _frames(
    lines: AsyncIterator[tuple[str, CompletionResult | None]], fields: list[str] | None
) -> AsyncIterator[bytes]:
    result = None
    async for piece, finished in lines:
        if piece:
            yield _data({"content": piece, "stop": False})
        result = finished or result
    yield _data({**_shape(_answer("", result), fields), "stop": True})


def _data(payload: dict[str, Any]) -> bytes:
    return frame(json.dumps(payload, ensure_ascii=False))


def _answer(text: str, result: CompletionResult | None) -> dict[str, Any]:
    usage, timings = (result.usage, result.timings) if result else (None, None)
    prompt_n = usage.prompt_tokens - usage.cached_tokens if usage else 0
    predicted_n = usage.completion_tokens if usage else 0
    prompt_ms = timings.prefill_ms if timings else 0.0
    predicted_ms = timings.decode_ms if timings else 0.0
    return {
        "content": text,
        "stop": True,
        "model": result.model if result else "",
        "tokens_cached": usage.cached_tokens if usage else 0,
        "tokens_evaluated": usage.prompt_tokens if usage else 0,
        "tokens_predicted": predicted_n,
        "truncated": False,
        "timings": {
            "prompt_n": prompt_n,
            "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / prompt_n if prompt_n else 0.0,
            "prompt_per_second": prompt_n * 1000 / prompt_ms if prompt_ms else 0.0,
            "predicted_n": predicted_n,
            "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / predicted_n if predicted_n else 0.0,
            "predicted_per_second": predicted_n * 1000 / predicted_ms if predicted_ms else 0.0,
        },
    }


def _shape(answer: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """All of the answer, or only `fields`: paths like "timings/prompt_n", flattened as llama-server does."""
    if fields is None:
        return answer
    shaped: dict[str, Any] = {}
    for path in fields:
        value: Any = answer
        for key in path.split("/"):
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            shaped[path] = value
    return shaped
