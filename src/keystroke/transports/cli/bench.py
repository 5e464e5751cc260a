"""`keystroke bench ...`: latency benchmarks that print a table and can write JSON."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from keystroke.transports.cli.main import engine_options, prepare_model, settings_from
from keystroke.transports.cli.reporting import publish, report_option

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _edited_files(keys: int) -> Callable[[F], F]:
    """--file (repeatable), --visits, --keys: the options of the benchmarks that edit files in turn."""

    def decorate(function: F) -> F:
        options = [
            click.option(
                "--file",
                "files",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A file to edit (repeat; default: four modules of Python's standard library).",
            ),
            click.option(
                "--visits", type=click.IntRange(min=2), default=3, show_default=True, help="Rounds over the files."
            ),
            click.option(
                "--keys", type=click.IntRange(min=1), default=keys, show_default=True, help="Keystrokes per visit."
            ),
        ]
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _sources(files: tuple[Path, ...]) -> list[Path]:
    """The files given, else four modules of the standard library."""
    import fnmatch
    import glob
    import shlex

    return list(files) or [Path(str(module.__file__)) for module in (textwrap, shlex, fnmatch, glob)]


@click.group("bench")
def bench_group() -> None:
    """Measure latency side by side with the raw engine floor, in one run."""


@bench_group.command("typing")
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Source file to type (default: Python's own textwrap.py).",
)
@click.option("--keystrokes", type=click.IntRange(min=1), default=300, show_default=True)
@click.option(
    "--cold-every",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Empty the KV cache before every Nth keystroke (0: never) to sample cold latency.",
)
@click.option(
    "--beside",
    multiple=True,
    help="Also type with this model, one after the other in the same run, each beside its own floor (repeat), "
    "e.g. --model qwen2.5-coder-0.5b --beside smollm2-135m.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def typing_bench(
    file: Path | None,
    keystrokes: int,
    cold_every: int,
    beside: tuple[str, ...],
    json_out: Path | None,
    **options: Any,
) -> None:
    """Type a real file character by character, as an editor asks while typing (trigger "automatic", the
    inline lane); first-action latency beside the raw llama.cpp floor.

    The floor is llama.cpp alone doing the same work for the same keystroke (same prompt delta on the same
    cached prefix, same number of decoded tokens), timed on the same engine in the same run.

    \b
    Example: keystroke bench typing --model qwen2.5-coder-0.5b --beside smollm2-135m --cold-every 0
    """
    from keystroke.benchmarks.typing import format_typing, run_typing

    source = file or Path(textwrap.__file__)

    async def work(service: Any, backend: Any, progress: Callable[[int], None]) -> Any:
        return await run_typing(service, backend, source, keystrokes, cold_every, progress)

    first = settings_from(options)
    summaries, payloads = [], []
    for model in dict.fromkeys((first.engine.model, *beside)):
        settings = first if model == first.engine.model else settings_from(options, **{"engine.model": model})
        report = on_embedded(settings, keystrokes, f"typing {model}", "key", work)
        summaries.append(format_typing(report.summary()))
        payloads.append(report.to_json())
    publish("\n\n".join(summaries), payloads[0] if len(payloads) == 1 else payloads, json_out)


@bench_group.command("kv")
@_edited_files(keys=8)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def kv_bench(files: tuple[Path, ...], visits: int, keys: int, json_out: Path | None, **options: Any) -> None:
    """Interleaved editing of several files: KV reuse and first-action latency with KV slots and chunk
    reuse on, slots only, and neither, in one run on one engine.

    Each visit to a file after the first starts with an edit 25 lines above the cursor, then types on.
    """
    from keystroke.benchmarks.kv import CONFIGURATIONS, format_kv, run_kv

    sources = _sources(files)

    async def work(service: Any, backend: Any, progress: Callable[[int], None]) -> Any:
        return await run_kv(service, backend, sources, visits, keys, progress)

    total = len(CONFIGURATIONS) * visits * keys * len(sources)
    report = on_embedded(settings_from(options), total, "kv", "key", work)
    publish(format_kv(report.summary()), report.to_json(), json_out)


@bench_group.command("speculative")
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Source file to complete in (default: Python's own textwrap.py).",
)
@click.option(
    "--positions", type=click.IntRange(min=2), default=12, show_default=True, help="Cursor positions per lane."
)
@click.option(
    "--draft",
    help="A draft model of the same vocabulary (e.g. qwen2.5-coder-0.5b-q4_0 for --model qwen2.5-coder-1.5b-q4_0): "
    "adds its arm beside plain decoding and prompt lookup.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def speculative_bench(
    file: Path | None, positions: int, draft: str | None, json_out: Path | None, **options: Any
) -> None:
    """Speculative decoding side by side per lane: plain decoding, drafts by prompt lookup and (with --draft or
    engine.draft_model) drafts by a draft model. Mean accepted draft length, decode time per token, gain over
    plain, first-action latency, and the rollout gate's decision.

    Example: keystroke bench speculative --model qwen2.5-coder-1.5b-q4_0 --draft qwen2.5-coder-0.5b-q4_0
    """
    from keystroke.benchmarks.speculative import LANES, format_speculative, run_speculative

    source = file or Path(textwrap.__file__)

    async def work(service: Any, backend: Any, progress: Callable[[int], None]) -> Any:
        return await run_speculative(service, backend, source, positions, progress)

    settings = settings_from(options, **{"engine.draft_model": draft} if draft else {})
    report = on_embedded(settings, positions * len(LANES), "speculative", "pos", work)
    publish(format_speculative(report.summary()), report.to_json(), json_out)


@bench_group.command("fleet")
@click.option("--replicas", type=click.IntRange(min=2, max=8), default=2, show_default=True)
@_edited_files(keys=6)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def fleet_bench(
    replicas: int, files: tuple[Path, ...], visits: int, keys: int, json_out: Path | None, **options: Any
) -> None:
    """A fleet of stock llama_cpp.server replicas behind the remote backend: prefix-affinity hit rate and
    latency beside round robin, failover time when a replica is killed mid-stream, and requests to hung
    replicas ending by their deadline. Needs llama-cpp-python's server extra (pip install 'keystroke[test]')."""

    from tqdm import tqdm

    from keystroke.benchmarks.engine_processes import start_llama_server
    from keystroke.benchmarks.fleet import (
        FleetReport,
        format_fleet,
        run_deadline,
        run_failover,
        run_routing,
        start_fleet,
    )
    from keystroke.domain.engines.model_source import resolve_model

    sources = _sources(files)
    settings = settings_from(options, **{"engine.tokenizer": options.get("model") or "default"})
    model = resolve_model(settings.engine.model).path
    threads = max(1, (settings.engine.n_threads or os.cpu_count() or 1) // replicas)
    fleet = start_fleet(model, replicas, threads)
    report = FleetReport(replicas, [s.name for s in sources])
    try:
        urls = [replica.url for replica in fleet]
        with tqdm(total=2 * visits * keys * len(sources), desc="fleet", unit="key", disable=None) as bar:
            report.routing = asyncio.run(run_routing(settings, urls, sources, visits, keys, bar.update))
        victim = start_llama_server(model, threads=threads)
        try:
            report.failover = asyncio.run(run_failover(settings, victim, urls[0]))
        finally:
            victim.stop()
        report.deadline = asyncio.run(run_deadline(settings, fleet, 3))
    finally:
        for replica in fleet:
            replica.stop()
    publish(format_fleet(report.to_json()), report.to_json(), json_out)


@bench_group.command("load")
@click.option(
    "--editors",
    default="1,2,3,4,6,8",
    show_default=True,
    help="Numbers of simultaneous editors to try, comma-separated, in increasing order.",
)
@click.option("--keys", type=click.IntRange(min=2), default=30, show_default=True, help="Keystrokes per editor.")
@click.option("--burst", type=click.IntRange(min=1), default=5, show_default=True, help="Keys between pauses.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def load_bench(editors: str, keys: int, burst: int, seed: int, json_out: Path | None, **options: Any) -> None:
    """N simulated editors typing at once against the embedded engine (each its own tenant and file):
    inline first-action p50/p95 per N, the largest N within p95 <= 300 ms, and the 429s beyond it."""
    import argparse
    import ast
    import calendar
    import csv
    import difflib
    import fnmatch
    import glob
    import shlex

    from tqdm import tqdm

    from keystroke.benchmarks.load import format_load, run_level
    from keystroke.services.factory import build_service

    try:
        counts = [int(part) for part in editors.split(",")]
    except ValueError as exc:
        raise click.BadParameter(f"not a comma-separated list of numbers: {editors!r}", param_hint="--editors") from exc
    if not counts or min(counts) < 1:
        raise click.BadParameter("every number of editors must be at least 1", param_hint="--editors")
    modules = (textwrap, shlex, fnmatch, glob, argparse, ast, calendar, csv, difflib)
    sources = [Path(str(m.__file__)) for m in modules]
    settings = settings_from(options, **{"engine.speculative": "off"})

    async def run() -> list[dict[str, Any]]:
        service = build_service(settings)
        levels = []
        try:
            with tqdm(total=len(counts), desc="load", unit="level", disable=None) as bar:
                for count in counts:
                    level = await run_level(service, sources, count, keys, burst, seed)
                    levels.append(level.summary())
                    bar.update(1)
        finally:
            await service.aclose()
        return levels

    levels = asyncio.run(run())
    publish(format_load(levels), levels, json_out)


@bench_group.command("redaction")
@click.option(
    "--file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File whose first 2,000 lines are redacted for the cost figures (default: the stdlib's argparse.py).",
)
@click.option("--runs", type=click.IntRange(min=10), default=300, show_default=True, help="Timed runs of each kind.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
def redaction_bench(file: Path | None, runs: int, json_out: Path | None) -> None:
    """Secret redaction: detection rate per format on a corpus of fake secrets, false positives on Python's
    standard library, and the cost on a 2,000-line file (first scan, and per keystroke with the chunk cache),
    beside detect-secrets' own line-by-line scan of the same file."""
    from tqdm import tqdm

    from keystroke.benchmarks.redaction import (
        RedactionReport,
        costs,
        detection_rates,
        false_positives,
        format_report,
        library_scan_ms,
        stdlib_files,
        two_thousand_lines,
    )

    files = stdlib_files()
    with tqdm(total=len(files), desc="standard library", unit="file", disable=None) as bar:
        lines, kinds, examples = false_positives(files, lambda: bar.update())
    text = two_thousand_lines(file)
    with tqdm(total=2 * runs, desc="timing", unit="run", disable=None) as bar:
        cold, keystroke = costs(text, runs, lambda: bar.update())
    report = RedactionReport(detection_rates(), len(files), lines, kinds, examples, text.count("\n"), cold, keystroke)
    report.library_ms = library_scan_ms(text)
    publish(format_report(report), report.as_json(), json_out)


@bench_group.command("gateway")
@click.option("--requests", type=click.IntRange(min=1), default=100, show_default=True, help="Requests of each kind.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def gateway_bench(requests: int, json_out: Path | None, **options: Any) -> None:
    """What HTTP + JSON and HTTP + SSE add over an in-process call, and the server's resident memory.

    Starts `keystroke serve` on a free loopback port with the same engine options, then sends the same warm
    request through it and through an in-process service, in alternation. Overhead is paired per request:
    client wall time minus the service time the server reports for that request.
    """
    from tqdm import tqdm

    from keystroke.benchmarks.gateway import format_gateway, gateway_process, run_gateway
    from keystroke.services.factory import build_service

    settings = settings_from(options)
    prepare_model(settings)
    passthrough = _engine_args(options)

    async def run(url: str, pid: int) -> Any:
        service = build_service(settings)
        try:
            with tqdm(total=requests, desc="requests", unit="req", disable=None) as bar:
                return await run_gateway(service, url, pid, requests, bar.update)
        finally:
            await service.aclose()

    with gateway_process(passthrough) as (url, pid):
        report = asyncio.run(run(url, pid))
    publish(format_gateway(report.summary()), report.to_json(), json_out)


@bench_group.command("context")
@click.option(
    "--workspace",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder to index (default: Python's standard library, about 1,800 files).",
)
@click.option("--file", "relpath", default="textwrap.py", show_default=True, help="File to type in, in the workspace.")
@click.option("--function", help="Function or method to type (default: the longest one in the file).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def context_bench(
    workspace: Path | None, relpath: str, function: str | None, json_out: Path | None, **options: Any
) -> None:
    """Type one function of a real file; time context assembly per keystroke and per source, and measure how
    much of each prompt the previous one shares (what the KV cache keeps).

    The floor beside our figure is prompt assembly alone, with the same snippets, in the same run.
    """
    from tqdm import tqdm

    from keystroke.benchmarks.context import format_context, run_context
    from keystroke.domain.engines.factory import build_backend
    from keystroke.domain.engines.llama_engine import LlamaEngine
    from keystroke.domain.prompt.profiles import detect_profile
    from keystroke.services.workspace import Workspace, open_workspace
    from keystroke.testing import ManualClock
    from keystroke.transports.progress import indexing_bar

    root = workspace or Path(textwrap.__file__).parent
    settings = settings_from(options)
    click.echo(f"indexing {root} ...", err=True)
    with indexing_bar() as progress:
        index = open_workspace(settings, progress, root=root)
    backend = build_backend(settings.engine)
    profile = detect_profile(backend.info.special_tokens, settings.engine.profile)
    engine = backend.tokenizer
    assert isinstance(engine, LlamaEngine)
    clock = ManualClock()
    opened = Workspace.over(index, engine, settings, clock=clock, owns_index=True)
    context = opened.context
    try:
        with tqdm(desc="typing", unit="key", disable=None) as bar:
            report = run_context(context, clock, profile, engine.encode, settings, relpath, function, bar.update)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        opened.close()
        asyncio.run(backend.aclose())
    click.echo(format_context(report))
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_json(), indent=2))
        click.echo(f"results written to {json_out}")


@bench_group.command("replay")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Repository whose Python functions the simulated users retype.",
)
@click.option("--keystrokes", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the tasks and of the typists.")
@click.option(
    "--setup",
    "setups",
    multiple=True,
    help="A configuration to replay, one after the other on the same tasks (repeat): 'default' (the shipped "
    "defaults), a catalog model or .gguf path (every lane on it), or a TOML configuration file (e.g. a model per "
    "lane; labelled by its stem). Without --setup: the engine options given.",
)
@click.option(
    "--server-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the language server's debug log here (lanes and why, cancellations; never code).",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def replay_bench(
    repo: Path,
    keystrokes: int,
    seed: int,
    setups: tuple[str, ...],
    server_log: Path | None,
    json_out: Path | None,
    **options: Any,
) -> None:
    """Simulated users retype real code through `keystroke lsp` against a real `keystroke serve`.

    \b
    Function bodies of REPO are blanked and retyped at human pace (80-400 ms between keys), with pauses,
    typos fixed, undo/redo, cursor jumps and pastes; like VS Code, every edit sends didChange and asks for an
    inline completion, cancelling the previous request. Prints characters saved per 100 typed, the share of
    moments with a correct suggestion on screen, stale suggestions shown, requests sent upstream per keystroke,
    cancelled generations, cache and prefetch hits, the lane mix, latency per lane and the gateway's CPU-seconds
    per shown suggestion; with several --setup, each configuration on the same tasks, side by side.
    Example: keystroke bench replay --repo ~/src/httpx/httpx --keystrokes 2000 --json replay.json
    Example: keystroke bench replay --repo DIR --setup default --setup qwen2.5-coder-0.5b-q4_0 --setup lanes.toml
    """
    from tqdm import tqdm

    from keystroke.benchmarks.engine_processes import process_cpu_seconds
    from keystroke.benchmarks.gateway import gateway_process
    from keystroke.benchmarks.replay import SetupResult, format_replay, format_setups, run_replay
    from keystroke.benchmarks.typist import find_tasks

    tasks = find_tasks(repo, max(10, keystrokes // 100), seed)
    if not tasks:
        raise click.UsageError(f"no Python function of 4-25 lines under {repo} to retype")
    chosen = [(_setup_label(setup), _setup_args(setup, options)) for setup in setups] or [
        ("given", _engine_args(options))
    ]
    for _, args in chosen:  # every model ready before the first replay starts
        prepare_model(_setup_settings(args))
    results, payloads, tables = [], {}, []
    for label, args in chosen:
        with (
            gateway_process(args) as (url, pid),
            tqdm(total=keystrokes, desc=f"replay {label}", unit="key", disable=None) as bar,
        ):
            before = process_cpu_seconds(pid)
            config = _setup_settings_file(args)
            report = asyncio.run(run_replay(url, repo, tasks, keystrokes, seed, bar.update, server_log, config))
            cpu = process_cpu_seconds(pid) - before
        results.append(SetupResult(label, report.summary(), cpu))
        payloads[label] = {**report.to_json(), "cpu_seconds": cpu}
        tables.append(f"[{label}]\n{format_replay(report.summary())}")
    if len(results) > 1:
        tables.append(format_setups(results))
    publish("\n\n".join(tables), payloads if len(results) > 1 else payloads[results[0].label], json_out)


def _setup_label(setup: str) -> str:
    return Path(setup).stem if setup.endswith((".toml", ".gguf")) else setup


def _setup_args(setup: str, options: dict[str, Any]) -> list[str]:
    """`keystroke serve` arguments for a --setup, with the command's --threads and --n-ctx."""
    common = [arg for flag, key in (("--threads", "threads"), ("--n-ctx", "n_ctx")) if options.get(key) is not None
              for arg in (flag, str(options[key]))]  # fmt: skip
    if setup == "default":
        return common
    if setup.endswith(".toml"):
        if not Path(setup).is_file():
            raise click.BadParameter(f"no configuration file {setup}", param_hint="--setup")
        return ["--config", setup, *common]
    return ["--model", setup, *common]


def _setup_settings_file(args: list[str]) -> Path | None:
    """The configuration file among `keystroke serve` arguments (the language server reads it too)."""
    pairs = dict(zip(args[::2], args[1::2], strict=False))
    return Path(pairs["--config"]) if "--config" in pairs else None


def _setup_settings(args: list[str]) -> Any:
    """The settings a gateway started with `args` will have (to prepare its models first)."""
    pairs = dict(zip(args[::2], args[1::2], strict=False))
    return settings_from({"model": pairs.get("--model"), "config": _setup_settings_file(args)})


@bench_group.command("naive")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Repository whose Python functions the simulated users retype (default: the standard library's email "
    "package).",
)
@click.option("--keystrokes", type=click.IntRange(min=1), default=400, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the tasks and of the typists.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write results here.")
@report_option
@engine_options
def naive_bench(repo: Path | None, keystrokes: int, seed: int, json_out: Path | None, **options: Any) -> None:
    """keystroke versus a naive set-up on the same typing replay and model, one after the other in one run.

    \b
    naive:     the stock `python -m llama_cpp.server` and a client that sends the text before the cursor
               150 ms after each keystroke (no cancellation; stale answers hidden).
    keystroke: `keystroke lsp` against `keystroke serve`.
    Prints first-action p50/p95 and their ratio, engine CPU-seconds per shown suggestion, and wasted decode
    tokens (generated but never shown). Needs llama-cpp-python's server extra: pip install 'keystroke[test]'.
    """
    import email

    from tqdm import tqdm

    from keystroke.benchmarks.engine_processes import process_cpu_seconds, start_llama_server
    from keystroke.benchmarks.gateway import gateway_process
    from keystroke.benchmarks.naive import SideReport, compare, format_naive, run_naive, tokens_of, usage_of
    from keystroke.benchmarks.replay import run_replay
    from keystroke.benchmarks.typist import find_tasks
    from keystroke.domain.engines.llama_tokenizer import load_tokenizer
    from keystroke.domain.engines.model_source import resolve_model
    from keystroke.domain.engines.remote import fetch_model_id

    root = repo or Path(str(email.__file__)).parent
    tasks = find_tasks(root, max(10, keystrokes // 100), seed)
    if not tasks:
        raise click.UsageError(f"no Python function of 4-25 lines under {root} to retype")
    settings = settings_from(options)
    prepare_model(settings)
    source = resolve_model(settings.engine.model)
    tokenizer = load_tokenizer(source)
    threads = settings.engine.n_threads or max(1, os.cpu_count() or 1)
    engine = start_llama_server(source.path, threads=threads, n_ctx=settings.engine.n_ctx)
    try:
        model, before = fetch_model_id(engine.url, None), engine.cpu_seconds()
        with tqdm(total=keystrokes, desc="naive", unit="key", disable=None) as bar:
            client = asyncio.run(run_naive(engine.url, model, tasks, keystrokes, seed, bar.update))
        report = client.report
        naive = SideReport(report, engine.cpu_seconds() - before, client.decoded_tokens, answer_ms=client.answer_ms)
        naive.shown_model_tokens = tokens_of(report.shown, tokenizer.count_tokens, ("naive",))
        naive.extra = {"stale": client.stale, "empty": report.empty, "lone": client.lone}
    finally:
        engine.stop()
    with gateway_process(_engine_args(options)) as (url, pid):
        before = process_cpu_seconds(pid)
        with tqdm(total=keystrokes, desc="keystroke", unit="key", disable=None) as bar:
            report = asyncio.run(run_replay(url, root, tasks, keystrokes, seed, bar.update))
        usage = asyncio.run(usage_of(url))
        ours = SideReport(report, process_cpu_seconds(pid) - before, usage.get("decoded_tokens", 0))
        ours.shown_model_tokens = tokens_of(report.shown, tokenizer.count_tokens, ("inline", "multiline"))
        ours.shown_derived_tokens = tokens_of(
            report.shown, tokenizer.count_tokens, ("inline", "multiline", "cache", "inflight")
        )
        lanes = report.summary()["latency_ms"]
        ours.extra = {
            "model_lanes_first_action_ms": {lane: lanes[lane] for lane in ("inline", "multiline") if lane in lanes},
            "lanes": dict(report.summary()["lanes"]),
            "unshown_decoded_tokens": usage.get("unshown_decoded_tokens"),
        }
    result = compare(naive, ours)
    publish(format_naive(result), result, json_out)


def _engine_args(options: dict[str, Any]) -> list[str]:
    """The engine options given to this command, as `keystroke serve` arguments."""
    flags = (("--model", "model"), ("--profile", "profile"), ("--n-ctx", "n_ctx"), ("--threads", "threads"))
    args = [arg for flag, key in flags if options.get(key) is not None for arg in (flag, str(options[key]))]
    if options.get("config") is not None:
        args += ["--config", str(options["config"])]
    return args


def on_embedded(settings: Any, total: int, desc: str, unit: str, work: Callable[..., Awaitable[T]]) -> T:
    """Build the embedded service, run `work(service, backend, progress)` under a progress bar, close it."""
    from tqdm import tqdm

    from keystroke.domain.engines.embedded import EmbeddedBackend
    from keystroke.services.factory import build_service

    prepare_model(settings)

    async def run() -> T:
        service = build_service(settings)
        assert isinstance(service.backend, EmbeddedBackend)
        try:
            with tqdm(total=total, desc=desc, unit=unit, disable=None) as bar:
                return await work(service, service.backend, bar.update)
        finally:
            await service.aclose()

    return asyncio.run(run())
