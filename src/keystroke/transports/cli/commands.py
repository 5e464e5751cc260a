"""`keystroke serve`, `keystroke complete`."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from keystroke.errors import ConfigError
from keystroke.transports.cli.main import engine_options, prepare_model, settings_from


@click.command()
@engine_options
@click.option("--host", help="Address to listen on (default 127.0.0.1, loopback only).")
@click.option("--port", type=int, help="TCP port (default 8765; 0 picks a free port).")
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="warning",
    show_default=True,
    help="Server log level. Logs never contain code, secrets or keys, at any level.",
)
@click.option(
    "--workspace",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Index this folder and collect context from it for requests whose filepath lies inside it "
    "(embedded single-user mode; requests that send their own snippets keep them).",
)
def serve(host: str | None, port: int | None, log_level: str, workspace: Path | None, **options: Any) -> None:
    """Run the completion gateway on the embedded engine.

    \b
    Serves POST /v1/completions (Tabby-compatible, JSON or Server-Sent Events), GET /v1/models, GET /v1/policy,
    GET /v1/audit, GET /healthz and the OpenAPI document at /openapi.json. Try it:
      curl -s localhost:8765/v1/completions -H 'content-type: application/json' \\
        -d '{"language": "python", "segments": {"prefix": "def add(a, b):\\n"}}'

    \b
    Without API keys it serves this machine only (loopback). With keys (`keystroke keys create --tenant NAME`)
    every /v1/ request needs 'Authorization: Bearer KEY', and its tenant comes from the key.
    """
    from keystroke.transports.http.server import run_server

    _log_to_stderr(log_level)
    settings = settings_from(options, **{"server.host": host, "server.port": port, "context.workspace": workspace})
    prepare_model(settings)
    run_server(settings, log_level)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--line", "-l", type=int, required=True, help="Cursor line, counted from 1.")
@click.option("--column", "-c", type=int, required=True, help="Cursor column in characters, counted from 1.")
@click.option(
    "--mode",
    type=click.Choice(["auto", "inline", "multiline"]),
    default="auto",
    show_default=True,
    help="inline: one line; multiline: a block; auto: chosen from the cursor position.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@engine_options
def complete(file: Path, line: int, column: int, mode: str, as_json: bool, **options: Any) -> None:
    """Complete FILE at a cursor position and print the suggestion and its timings.

    Runs the same completion service as the gateway, in this process. Example:
    `keystroke complete app.py --line 12 --column 5 --mode multiline`
    """
    from keystroke.services.factory import build_service
    from keystroke.services.types import CompletionRequest

    text = _read_source(file)
    offset = cursor_offset(text, line, column)
    settings = settings_from(options)
    prepare_model(settings)
    request = CompletionRequest(
        prefix=text[:offset],
        suffix=text[offset:],
        language=_language(file),
        filepath=file.name,
        mode=mode,  # type: ignore[arg-type]
    )

    async def run() -> Any:
        service = build_service(settings)
        try:
            return await service.complete(request)
        finally:
            await service.aclose()

    result = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(asdict(result), indent=2))
        return
    click.echo(result.text if result.text else f"(no suggestion: {result.abstain_reason})")
    click.echo(_timing_line(result), err=True)


def cursor_offset(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based (line, column); column may be one past the end of the line."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise ConfigError(f"--line {line} is outside the file, which has {len(lines)} lines")
    if not 1 <= column <= len(lines[line - 1]) + 1:
        raise ConfigError(f"--column {column} is outside line {line}, which has {len(lines[line - 1])} characters")
    return sum(len(previous) + 1 for previous in lines[: line - 1]) + column - 1


def _read_source(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file} is not UTF-8 text") from exc


def _language(file: Path) -> str | None:
    known = {".py": "python", ".js": "javascript", ".ts": "typescript", ".rs": "rust", ".go": "go"}
    return known.get(file.suffix.lower())


def _timing_line(result: Any) -> str:
    t, u = result.timings, result.usage
    first = f"{t.first_action_ms:.0f} ms" if t.first_action_ms is not None else "-"
    return (
        f"--- {result.mode} · first action {first} · total {t.total_ms:.0f} ms · prefill {t.prefill_ms:.0f} ms · "
        f"prompt {u.prompt_tokens} tokens ({u.cached_tokens} cached) · {u.completion_tokens} generated"
    )


def _log_to_stderr(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="keystroke serve %(levelname)s %(message)s")
    # client libraries' debug logs quote bodies; matplotlib's and Pillow's (the dashboard's plots) are font
    # lookups by the hundred, which bury the gateway's own lines
    for noisy in ("httpx", "httpcore", "watchfiles", "asyncio", "matplotlib", "PIL", "multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
