"""`keystroke keys` and `keystroke tenants`: API keys and tenant policies in the gateway's key file.

The key file holds hashes only; a new key is printed once, on standard output, and never again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

KEYS_FILE = click.option(
    "--keys-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Key file (default: server.keys_file, else $KEYSTROKE_DATA_DIR/keys.json, else "
    "~/.local/share/keystroke/keys.json).",
)
CONFIG = click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML configuration file.")


def _store(config: Path | None, keys_file: Path | None) -> Any:
    from keystroke.config import keys_path, load_settings
    from keystroke.domain.privacy.tenants import KeyStore

    settings = load_settings(config, overrides={"server.keys_file": keys_file})
    return KeyStore(keys_path(settings))


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke the gateway's API keys (one tenant per key; the tenant comes from the key).

    \b
      keystroke keys create --tenant acme     # prints the key once; give it to the editor as editor.key
      keystroke keys list
      keystroke keys revoke 3f9a0c1d
    """


@keys_group.command("create")
@click.option("--tenant", required=True, help="Tenant (organisation) the key acts for; created if new.")
@CONFIG
@KEYS_FILE
def create(tenant: str, config: Path | None, keys_file: Path | None) -> None:
    """Create a key and print it once (only its hash is stored)."""
    store = _store(config, keys_file)
    record, key = store.create(tenant)
    click.echo(key)
    click.echo(
        f"keystroke: key {record.id} for tenant {record.tenant} stored as a hash in {store.path}; this is the only "
        "time it is shown. Editors send it as 'Authorization: Bearer KEY' (setting editor.key).",
        err=True,
    )


@keys_group.command("list")
@CONFIG
@KEYS_FILE
def list_keys(config: Path | None, keys_file: Path | None) -> None:
    """Key ids, tenants, creation dates and states (never the keys)."""
    store = _store(config, keys_file)
    records = store.keys()
    if not records:
        click.echo(f"no keys in {store.path}: the gateway serves this machine only, as tenant 'local'")
        return
    click.echo(f"{'id':<10} {'tenant':<20} {'created':<20} state")
    for record in records:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created))
        click.echo(f"{record.id:<10} {record.tenant:<20} {created:<20} {'revoked' if record.revoked else 'active'}")


@keys_group.command("revoke")
@click.argument("key_id")
@CONFIG
@KEYS_FILE
def revoke(key_id: str, config: Path | None, keys_file: Path | None) -> None:
    """Revoke a key by its id (a running gateway refuses it within a second)."""
    record = _store(config, keys_file).revoke(key_id)
    click.echo(f"keystroke: key {record.id} of tenant {record.tenant} revoked", err=True)


@click.group("tenants")
def tenants_group() -> None:
    """Tenant policies: disable a tenant (its keys get 403), retain code in its audit log or not.

    \b
      keystroke tenants list
      keystroke tenants disable acme
      keystroke tenants retain-code acme --days 7     # prompts and completions kept 7 days
      keystroke tenants retain-code acme --off
      keystroke tenants admin ops                     # ops's keys see every tenant's dashboard, /metrics
    """


@tenants_group.command("list")
@CONFIG
@KEYS_FILE
def list_tenants(config: Path | None, keys_file: Path | None) -> None:
    """Tenants and their policies."""
    for tenant in _store(config, keys_file).tenants():
        retain = f"retain code {tenant.retention_days} days" if tenant.retain_code else "no code retained"
        admin = "  admin" if tenant.admin else ""
        click.echo(f"{tenant.name:<20} {'disabled' if tenant.disabled else 'enabled':<9} {retain}{admin}")


@tenants_group.command("disable")
@click.argument("name")
@CONFIG
@KEYS_FILE
def disable(name: str, config: Path | None, keys_file: Path | None) -> None:
    """Refuse the tenant's keys (403) until `enable`."""
    _store(config, keys_file).update_tenant(name, disabled=True)
    click.echo(f"keystroke: tenant {name} disabled", err=True)


@tenants_group.command("enable")
@click.argument("name")
@CONFIG
@KEYS_FILE
def enable(name: str, config: Path | None, keys_file: Path | None) -> None:
    """Accept the tenant's keys again."""
    _store(config, keys_file).update_tenant(name, disabled=False)
    click.echo(f"keystroke: tenant {name} enabled", err=True)


@tenants_group.command("retain-code")
@click.argument("name")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True, help="Retention period.")
@click.option("--off", is_flag=True, help="Stop retaining code (the default); records keep sizes and timings only.")
@CONFIG
@KEYS_FILE
def retain_code(name: str, days: int, off: bool, config: Path | None, keys_file: Path | None) -> None:
    """Keep the tenant's prompts and completions (redacted) in its audit log for DAYS, or stop (--off)."""
    tenant = _store(config, keys_file).update_tenant(name, retain_code=not off, retention_days=days)
    state = f"retains code for {tenant.retention_days} days" if tenant.retain_code else "retains no code"
    click.echo(f"keystroke: tenant {name} {state}", err=True)


@tenants_group.command("admin")
@click.argument("name")
@click.option("--off", is_flag=True, help="Take the admin right away again.")
@CONFIG
@KEYS_FILE
def admin(name: str, off: bool, config: Path | None, keys_file: Path | None) -> None:
    """Let the tenant's keys read every tenant's dashboard and the gateway's /metrics (or stop: --off)."""
    _store(config, keys_file).update_tenant(name, admin=not off)
    click.echo(f"keystroke: tenant {name} is {'no longer ' if off else ''}an admin", err=True)
