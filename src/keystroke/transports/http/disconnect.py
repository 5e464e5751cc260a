"""Stop work whose HTTP client has hung up: the generation behind a non-streaming answer is cancelled.

Once the body is read, the server's next ASGI message for the request is `http.disconnect`, sent when the
client goes away (or after the response, when it no longer matters): waiting for it wakes the route the moment
the client leaves, without asking every few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's "client closed request"; nobody reads it, the log might


async def until_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """Await `work`, cancelling it (and so the generation) if the client hangs up first; None then."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()  # the route itself was cancelled (server shutting down): the generation goes too
        raise
    finally:
        gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _disconnect(request: Request) -> None:
    """Return when the server says the client is gone."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
