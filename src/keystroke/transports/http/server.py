"""Run the gateway: build the service, bind the socket, say where it listens, serve until interrupted."""

from __future__ import annotations

import socket
import sys

import click
import uvicorn

from keystroke.config import Settings
from keystroke.services.factory import build_service
from keystroke.transports.http.app import create_app

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def run_server(settings: Settings, log_level: str = "warning") -> None:
    click.echo(f"keystroke: loading model {settings.engine.model} ...", err=True)
    service = build_service(settings)
    app = create_app(service)
    sock = _bind(settings.server.host, settings.server.port)
    host, port = sock.getsockname()[:2]
    if settings.server.host not in LOOPBACK:
        click.echo(
            f"keystroke: warning: listening on {settings.server.host}, beyond this machine, without authentication",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"keystroke: serving http://{shown}:{port} (model {service.backend.info.name}, "
        f"profile {service.profile.label}); Ctrl+C stops"
    )
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from keystroke.errors import ConfigError

        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from exc
    return sock
