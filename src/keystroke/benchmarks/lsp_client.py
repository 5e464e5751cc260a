"""A real LSP client for `keystroke lsp` (pygls'): what the replay benchmark and the tests drive it with."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

LineSink = Callable[[str], None]


@contextlib.asynccontextmanager
async def language_server(
    args: Sequence[str],
    root: Path,
    *,
    env: Mapping[str, str] | None = None,
    on_stderr: LineSink | None = None,
    warm_s: float = 0.0,
    progress: list[Any] | None = None,
    health: list[dict[str, Any]] | None = None,
    ghost_text: bool = False,
) -> AsyncIterator[LanguageClient]:
    """`keystroke lsp ARGS --workspace ROOT` started, initialized, and shut down at the end. The server's
    stderr is read line by line (into `on_stderr`), so a full pipe never blocks it. With a `progress` list,
    the client shows progress bars: the `$/progress` values the server sends are appended to it; with a
    `health` list, the `keystroke/health` notifications are. `ghost_text`: the client says it asks for inline
    completions (as VS Code does)."""
    client = LanguageClient("keystroke-client", "1")
    if health is not None:
        client.feature("keystroke/health")(lambda params: health.append(plain(params)))
    window = None
    if progress is not None:
        window = types.WindowClientCapabilities(work_done_progress=True)

        def create(_params: types.WorkDoneProgressCreateParams) -> None:
            return None

        def report(params: types.ProgressParams) -> None:
            progress.append(params.value)

        client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)(create)
        client.feature(types.PROGRESS)(report)

    command = ["-m", "keystroke", "lsp", *args, "--workspace", str(root)]
    await client.start_io(sys.executable, *command, env={**os.environ, **(env or {})})
    drain = asyncio.ensure_future(_drain(client, on_stderr))
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=window,
                    text_document=types.TextDocumentClientCapabilities(
                        inline_completion=types.InlineCompletionClientCapabilities() if ghost_text else None
                    ),
                ),
                root_uri=root.resolve().as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.resolve().as_uri(), name=root.name)],
            )
        )
        client.initialized(types.InitializedParams())
        await asyncio.sleep(warm_s)
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_async(None), 10)
            client.exit(None)
        await client.stop()  # type: ignore[no-untyped-call]
        drain.cancel()


async def stats(client: LanguageClient) -> dict[str, Any]:
    """The server's `keystroke/stats` counters."""
    answer = plain(await client.protocol.send_request_async("keystroke/stats", {}))
    assert isinstance(answer, dict)
    return answer


async def status(client: LanguageClient, uri: str | None = None) -> dict[str, Any]:
    """The server's `keystroke/status`: the remote lane's health, and whether `uri` is excluded from upload."""
    answer = plain(await client.protocol.send_request_async("keystroke/status", {"uri": uri} if uri else {}))
    assert isinstance(answer, dict)
    return answer


def plain(value: Any) -> Any:
    """pygls returns custom requests' results as namedtuples: back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


async def _drain(client: LanguageClient, on_stderr: LineSink | None) -> None:
    stream = client._server.stderr if client._server is not None else None
    while stream is not None and (line := await stream.readline()):
        if on_stderr is not None:
            on_stderr(line.decode("utf-8", "replace").rstrip("\n"))
