"""`keystroke lsp`: the language server over stdio, asking a gateway or running the engine in-process."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from keystroke.transports.cli.main import engine_options, prepare_model, settings_from


@click.command("lsp")
@click.option("--gateway", help="Gateway URL to ask, e.g. http://127.0.0.1:8765 (or editor.gateway).")
@click.option("--key", envvar="KEYSTROKE_API_KEY", help="API key for the gateway (or $KEYSTROKE_API_KEY).")
@click.option("--embedded", is_flag=True, help="Run the engine in this process: one offline user, no gateway.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    help="Workspace root: indexed for context; paths are relative to it (default: the editor's workspace folder).",
)
@click.option("--no-index", is_flag=True, help="Do not index the workspace (no context from other files).")
@click.option(
    "--log-level",
    type=click.Choice(["error", "warning", "info", "debug"]),
    default="warning",
    show_default=True,
    help="Log level on stderr; debug shows the lane chosen for each request and why. Logs never contain code.",
)
@engine_options
def lsp(
    gateway: str | None,
    key: str | None,
    embedded: bool,
    workspace: Path | None,
    no_index: bool,
    log_level: str,
    **options: Any,
) -> None:
    """Language server over stdio: ghost text (textDocument/inlineCompletion) and completion lists.

    \b
    Exactly one of --gateway URL or --embedded:
      keystroke lsp --gateway http://127.0.0.1:8765    # a gateway started with `keystroke serve`
      keystroke lsp --embedded                         # the default model in-process, fully offline
    The editor starts this command; see the README for VS Code, Neovim and Helix. The workspace folder is
    indexed in the background (cached between runs; a progress bar in editors that show one), and context
    from it goes with each request to the model. Files excluded from upload (.env*, *.pem, *.key, id_rsa*,
    credentials folders, ...) are answered by the local lane only and never indexed.
    """
    if embedded and gateway is not None:
        raise click.UsageError("give exactly one of --gateway URL or --embedded")
    overrides: dict[str, Any] = {"editor.gateway": gateway, "editor.key": key}
    if no_index:
        overrides["editor.index_workspace"] = False
    settings = settings_from(options, **overrides)
    gateway = None if embedded else settings.editor.gateway  # --embedded wins over a configured gateway
    if not embedded and gateway is None:
        raise click.UsageError("give exactly one of --gateway URL or --embedded (or set editor.gateway)")
    _log_to_stderr(log_level)
    from keystroke.services.editor import EditorService
    from keystroke.services.local_lane import LocalLane
    from keystroke.services.remote_lane import EmbeddedLane, RemoteLane
    from keystroke.transports.http.client import GatewayLane
    from keystroke.transports.lsp.server import build_server

    remote: RemoteLane
    if embedded:
        from keystroke.config import telemetry_path
        from keystroke.domain.telemetry.store import TelemetryStore
        from keystroke.services.factory import build_service

        prepare_model(settings)
        remote = EmbeddedLane(build_service(settings), telemetry=TelemetryStore(telemetry_path(settings)))
    else:
        assert gateway is not None
        remote = GatewayLane(gateway, settings.editor.key, settings.editor.timeout_s)
    root = workspace.resolve() if workspace is not None else None  # None: the editor's workspace folder
    telemetry = remote if settings.editor.telemetry else None
    local = LocalLane(settings.editor.jedi_budget_ms)
    editor = EditorService(remote, local, settings, root=root, telemetry=telemetry)
    build_server(editor).start_io()


def _log_to_stderr(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="keystroke lsp %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore", "parso", "jedi"):  # their debug logs quote message bodies: code
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pygls warns about every cancellation that arrives after its answer left (routine while typing), and its
    # error lines quote the params of the message at fault (document text): keystroke logs those events itself
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
