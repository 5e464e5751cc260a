"""`keystroke bench soak` and `keystroke bench abuse`: a real gateway held to account for leaks and bad clients.

Both start their own `keystroke serve` process (in a fresh data folder, loopback, the model given with
`--model`), so the figures are the gateway's as users run it, read from its process.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from keystroke.transports.cli.reporting import publish, report_option

F = TypeVar("F", bound=Callable[..., Any])


def _gateway_options(function: F) -> F:
    """--model and --threads for the gateway the benchmark starts; --json and --report for its results."""
    options = [
        click.option("--model", help="The gateway's model (default: the embedded default)."),
        click.option("--threads", type=int, help="The gateway's CPU threads for llama.cpp."),
        click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here."),
        report_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _gateway_args(model: str | None, threads: int | None) -> tuple[str, ...]:
    args: list[str] = []
    if model:
        args += ["--model", model]
    if threads:
        args += ["--threads", str(threads)]
    return tuple(args)


@click.command("soak")
@click.option("--minutes", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="How long to run.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Requests per second; pick one the gateway sustains (a few 429s at most), or the soak measures a queue.",
)
@click.option("--tenants", type=click.IntRange(min=0), default=3, show_default=True, help="0: a keyless gateway.")
@click.option(
    "--sample",
    "sample_s",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between samples of the gateway's memory, descriptors and threads.",
)
@click.option(
    "--warmup",
    "warmup_s",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds before the verdict's samples start (default: a fifth of the run, up to 5 min).",
)
@_gateway_options
@click.option("--seed", type=int, default=0, show_default=True)
def soak_bench(
    minutes: float,
    rate: float,
    tenants: int,
    sample_s: float,
    warmup_s: float | None,
    model: str | None,
    threads: int | None,
    seed: int,
    json_out: Path | None,
) -> None:
    """Mixed traffic at a steady rate for N minutes against a fresh gateway: its memory, descriptors, threads
    and 5xx count over time, and the verdict (RSS slope after warm-up < 1 MB/min, 0 answers >= 500).

    \b
    The mix: streamed completions (read to the end, or hung up on after the first line), plain completions,
    /infill, telemetry posted and read, dashboard and metrics, and bad requests of every kind (hostile JSON,
    wrong types, a form post, a foreign Origin, an unknown tenant, a wrong key), from several tenants.
      keystroke bench soak --minutes 30 --rate 2 --json soak.json
    """
    from keystroke.benchmarks.gateway_process import start_gateway
    from keystroke.benchmarks.soak import Sample, format_soak, run_soak

    warmup = warmup_s if warmup_s is not None else min(300.0, minutes * 60 / 5)
    with tempfile.TemporaryDirectory(prefix="keystroke-soak-") as data:
        click.echo("keystroke: starting a gateway for the soak ...", err=True)
        gateway = start_gateway(Path(data), tenants=tenants, args=_gateway_args(model, threads))

        def show(sample: Sample) -> None:
            click.echo(
                f"  {sample.at_s:>7.0f} s  RSS {sample.rss_mb:7.1f} MB  fds {sample.descriptors:4}  threads "
                f"{sample.threads:3}  requests {sample.requests:6}  5xx {sample.server_errors}",
                err=True,
            )

        try:
            report = asyncio.run(
                run_soak(
                    gateway, minutes=minutes, rate=rate, sample_s=sample_s, warmup_s=warmup, seed=seed, progress=show
                )
            )
        finally:
            gateway.stop()
    result = report.to_json()
    publish(format_soak(result), result, json_out)


@click.command("abuse")
@click.option(
    "--connections",
    type=click.IntRange(min=4),
    default=500,
    show_default=True,
    help="Abusive connections, spread over idle, slow header, slow body and endless header.",
)
@click.option(
    "--hangups",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Streamed completions whose client hangs up at the first byte.",
)
@click.option(
    "--drip",
    "drip_s",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between the bytes a slow client sends.",
)
@click.option(
    "--give-up",
    "give_up_s",
    type=click.FloatRange(min=1),
    default=90.0,
    show_default=True,
    help="A connection still open after this long counts as held by the attacker.",
)
@click.option("--header-timeout", type=click.FloatRange(min=0.1), help="The gateway's server.header_timeout_s.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), help="The gateway's server.body_timeout_s.")
@_gateway_options
def abuse_bench(
    connections: int,
    hangups: int,
    drip_s: float,
    give_up_s: float,
    header_timeout: float | None,
    body_timeout: float | None,
    model: str | None,
    threads: int | None,
    json_out: Path | None,
) -> None:
    """Many silent, slow and hung-up connections at once against a fresh gateway (its default deadlines unless
    given): how long each kind is held, what the server answers it, and whether ordinary requests are served
    meanwhile.

    \b
      keystroke bench abuse --connections 500 --json abuse.json
    """
    from tqdm import tqdm

    from keystroke.benchmarks.abuse import format_abuse, run_abuse
    from keystroke.benchmarks.gateway_process import start_gateway
    from keystroke.transports.http.server import raise_descriptor_limit

    raise_descriptor_limit()  # this process holds every abusive connection open too
    with tempfile.TemporaryDirectory(prefix="keystroke-abuse-") as data:
        click.echo("keystroke: starting a gateway for the probes ...", err=True)
        deadlines = {
            "KEYSTROKE_SERVER__HEADER_TIMEOUT_S": header_timeout,
            "KEYSTROKE_SERVER__BODY_TIMEOUT_S": body_timeout,
        }
        env = {name: str(value) for name, value in deadlines.items() if value is not None}
        gateway = start_gateway(Path(data), args=_gateway_args(model, threads), env=env)
        try:
            with tqdm(total=connections, desc="closed by the server", unit="conn", disable=None) as bar:

                async def main() -> Any:
                    return await run_abuse(
                        gateway,
                        connections=connections,
                        hangups=hangups,
                        drip_s=drip_s,
                        give_up_s=give_up_s,
                        progress=bar.update,
                    )

                report = asyncio.run(main())
        finally:
            gateway.stop()
    result = report.to_json()
    publish(format_abuse(result), result, json_out)
