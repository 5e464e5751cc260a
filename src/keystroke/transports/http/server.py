"""Run the gateway: build the service, bind the socket, say where it listens, serve until interrupted."""

from __future__ import annotations

import contextlib
import resource
import socket
import sys

import click
import uvicorn

from keystroke.config import Settings, audit_path, keys_path, telemetry_path
from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.privacy.audit import AuditLog
from keystroke.domain.privacy.tenants import KeyStore
from keystroke.domain.telemetry.store import TelemetryStore
from keystroke.errors import ConfigError
from keystroke.services.factory import build_service
from keystroke.services.workspace import open_workspace
from keystroke.transports.http.app import create_app
from keystroke.transports.http.auth import Authenticator
from keystroke.transports.http.connections import guarded_protocol
from keystroke.transports.progress import indexing_bar

LOOPBACK = ("127.0.0.1", "::1", "localhost")
BACKLOG = 2048


def run_server(settings: Settings, log_level: str = "warning") -> None:
    auth = _authenticator(settings)  # before binding: a keyless gateway may not listen beyond this machine
    audit = AuditLog(audit_path(settings))  # an unusable data folder fails here, in one line
    try:
        telemetry = TelemetryStore(telemetry_path(settings))
    except BaseException:
        audit.close()
        raise
    raise_descriptor_limit()
    try:
        sock = _bind(settings.server.host, settings.server.port)  # a taken port fails before the model loads
    except BaseException:
        audit.close()
        telemetry.close()
        raise
    host, port = sock.getsockname()[:2]
    try:
        index = _open_workspace(settings)
        click.echo(f"keystroke: loading model {settings.engine.model} ...", err=True)
        service = build_service(settings, index, audit)
    except BaseException:
        sock.close()
        audit.close()
        telemetry.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    click.echo(f"keystroke: serving {url} (model {service.model}, profile {service.profile.label}); Ctrl+C stops")
    click.echo(f"keystroke: playground {url}/  dashboard {url}/dashboard  metrics {url}/metrics")
    sys.stdout.flush()
    app = create_app(service, auth=auth, telemetry=telemetry)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        server_header=False,
        http=guarded_protocol(settings.server),
        timeout_keep_alive=settings.server.keep_alive_s,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if service.workspace is not None:
            service.workspace.close()
        audit.close()
        telemetry.close()


def _authenticator(settings: Settings) -> Authenticator:
    """The key store, and what it means for where the gateway may listen (said once at start)."""
    path = keys_path(settings)
    loopback = settings.server.host in LOOPBACK
    keys = KeyStore(path)
    auth = Authenticator(keys, settings.server.max_auth_header_bytes, loopback=loopback)
    if keys.has_keys:
        click.echo(f"keystroke: API keys required (key file {path})", err=True)
        return auth
    if not loopback:
        raise ConfigError(
            f"refusing to listen on {settings.server.host} without API keys: anyone who can reach it could read "
            f"completions of your code; create a key with `keystroke keys create --tenant NAME` (key file {path})"
        )
    click.echo(
        f"keystroke: no API keys in {path}: serving this machine only (loopback), every request as tenant "
        "'local'; `keystroke keys create --tenant NAME` turns authentication on",
        err=True,
    )
    return auth


def _open_workspace(settings: Settings) -> RepositoryIndex | None:
    """Index the configured workspace (a progress bar on a terminal, a summary line always)."""
    if settings.context.workspace is None:
        return None
    with indexing_bar() as progress:
        index = open_workspace(settings, progress)
    summary = index.last_summary
    if summary is not None:
        click.echo(
            f"keystroke: workspace {index.root}: {summary.files} files, {summary.symbols} symbols, "
            f"{summary.windows} snippet windows ({summary.seconds:.1f} s)",
            err=True,
        )
    return index


def raise_descriptor_limit() -> None:
    """Let the gateway use every descriptor the system allows it (the soft limit is often 1,024): connections
    are bounded by the server's deadlines, not by running out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)  # before the URL is printed: an early client waits in the backlog, never refused
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from exc
    return sock
