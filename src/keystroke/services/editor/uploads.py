"""What leaves the editor for the model: a document's request, prepared, and asked of the remote lane.

`Uploads` cuts the request at the cursor to what the prompt budget can use of the document (`window.py`),
prepares it (`preparation.py`: redacted, with the workspace's context as deep as the user's pace says; the
document's exclusion was decided when it opened), and asks the remote lane within the timeout, reporting
each answer or failure to the lane's health (`health.py`). It also names a document's entries in the result
cache (tenant, model, tokenizer, file). Not thread-safe: one event loop.
"""

from __future__ import annotations

import asyncio

from keystroke.config import EditorSettings
from keystroke.domain.editor.result_cache import Scope
from keystroke.domain.editor.window import upload_window
from keystroke.errors import RemoteUnavailableError
from keystroke.services.editor.documents import Document
from keystroke.services.editor.health import LaneHealth
from keystroke.services.editor.stats import EditorStats
from keystroke.services.preparation import Preparation, PreparedRequest
from keystroke.services.remote_lane import RemoteAnswer, RemoteLane
from keystroke.services.types import CompletionRequest, Trigger


class Uploads:
    def __init__(
        self,
        remote: RemoteLane | None,
        preparation: Preparation,
        settings: EditorSettings,
        tenant: str,
        window: int,
        stats: EditorStats,
        health: LaneHealth,
    ) -> None:
        self.remote = remote
        self.preparation = preparation  # replaced when the serving side's policy adds rules (`connect`)
        self.settings = settings
        self.tenant = tenant
        self.window = window  # characters of a large file that go to the model
        self.stats = stats
        self.health = health  # every answer or failure of the remote lane is reported there

    def request(
        self, document: Document, prefix: str, suffix: str, mode: str, trigger: Trigger, background: bool = False
    ) -> CompletionRequest:
        """The request for the model: what the prompt budget can use of the document around the cursor."""
        return CompletionRequest(
            *upload_window(prefix, suffix, self.window),
            document.language,
            document.key,
            mode="multiline" if mode == "multiline" else "inline",
            # a prefetch has its own session: it never supersedes the user's request
            session_id=f"lsp-prefetch:{document.uri}" if background else f"lsp:{document.uri}",
            trigger=trigger,
            background=background,
        )

    async def prepare(self, document: Document, request: CompletionRequest, now: float) -> PreparedRequest:
        """Redacted, with context from the indexed workspace as deep as the user's pace at `now` says
        (excluded files were never indexed; none before it is ready)."""
        scope = self.scope(document)
        return await self.preparation.prepare(
            request,
            f"{scope.tenant}\x1f{scope.model}\x1f{scope.tokenizer}",
            gather=document.path is not None,
            excluded=document.excluded,
            depth=document.rhythm.depth(now),
        )

    async def ask(self, prepared: PreparedRequest, measured: bool = True) -> RemoteAnswer:
        """The remote lane's answer (revealed by the lane) within the timeout; `measured`: its serving time
        counts in the stats (not a prefetch's)."""
        assert self.remote is not None
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                answer = await self.remote.complete(prepared)
        except TimeoutError as exc:
            error = RemoteUnavailableError(f"no answer within {self.settings.timeout_s:g} s", "unreachable")
            self.health.failed(error)
            raise error from exc
        except RemoteUnavailableError as exc:
            self.health.failed(exc)
            raise
        self.health.answered()
        if measured and answer.first_action_ms is not None:
            self.stats.serving_ms.append(answer.first_action_ms)
        return answer

    def scope(self, document: Document) -> Scope:
        """The document's name in the result cache: its tenant, the model, its tokenizer and its key."""
        if self.remote is None:
            return Scope(self.tenant, "local", document.key)
        return Scope(self.tenant, self.remote.model, document.key, self.remote.tokenizer_id)
