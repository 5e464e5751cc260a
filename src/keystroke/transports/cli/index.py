"""`keystroke index PATH`: build or refresh a workspace's index and say what it holds."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click


@click.command("index")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--exclude", multiple=True, help="Extra path pattern never read (.gitignore syntax; repeatable).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the index is kept (default: $KEYSTROKE_CACHE_DIR, else ~/.cache/keystroke).",
)
@click.option("--clear", is_flag=True, help="Forget the cached index of PATH first (a cold build).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the summary here.")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML configuration file (its [context] section applies).",
)
def index_command(
    path: Path, exclude: tuple[str, ...], cache_dir: Path | None, clear: bool, json_out: Path | None, **options: Any
) -> None:
    """Index a workspace for context: definitions, imports and identifiers of every source file, and a BM25
    snippet index, cached by content hash so a second run re-reads only changed files.

    \b
    Never read: .gitignore'd paths, secrets (.env*, *.pem, *.key, id_rsa*, credentials folders),
    node_modules, virtual environments, binaries, files over 1 MB, and your --exclude patterns.
    Example: keystroke index . --exclude 'generated/'
    """
    from keystroke.config import load_settings
    from keystroke.services.workspace import open_workspace
    from keystroke.transports.progress import indexing_bar

    overrides = {"context.exclude": exclude or None, "context.cache_dir": cache_dir}
    settings = load_settings(options.get("config"), overrides=overrides)
    if clear:
        _clear(settings, path)
    with indexing_bar() as progress:
        index = open_workspace(settings, progress, root=path)
    summary = index.last_summary
    index.close()
    assert summary is not None
    click.echo(
        f"indexed {summary.files} files ({summary.parsed} parsed, {summary.reused} reused, {summary.removed} removed)"
        f" · {summary.symbols} symbols · {summary.windows} snippet windows ({summary.snippets})"
        f" · {summary.seconds:.2f} s"
    )
    click.echo(f"cache: {index.directory}")
    if json_out is not None:
        json_out.write_text(json.dumps({"path": str(path), **asdict(summary)}, indent=2))
        click.echo(f"summary written to {json_out}")


def _clear(settings: Any, path: Path) -> None:
    import shutil

    from keystroke.domain.context.index import default_cache_dir, workspace_cache

    shutil.rmtree(workspace_cache(settings.context.cache_dir or default_cache_dir(), path), ignore_errors=True)
