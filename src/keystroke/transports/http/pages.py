"""The gateway's browser pages: the playground at `/`, the dashboard at `/dashboard`, their files at `/static`.

Everything they load ships in the package (`static/`, the editor bundle built by `playground/build.sh`), so
they work offline. The pages hold no data; what they show comes through the authenticated routes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")


def register_pages(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def playground() -> FileResponse:
        return FileResponse(STATIC / "playground.html")

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
