"""`keystroke keys` / `keystroke tenants`, and the rule that a keyless gateway serves this machine only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from keystroke.transports.cli.keys import keys_group, tenants_group


def test_a_key_is_printed_once_and_listed_by_id_only(tmp_path: Path) -> None:
    runner = CliRunner()
    keys_file = ["--keys-file", str(tmp_path / "keys.json")]
    created = runner.invoke(keys_group, ["create", "--tenant", "acme", *keys_file])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("ks_")
    listed = runner.invoke(keys_group, ["list", *keys_file])
    assert key[3:11] in listed.stdout
    assert key not in listed.stdout
    assert key not in (tmp_path / "keys.json").read_text()
    policy = runner.invoke(tenants_group, ["retain-code", "acme", "--days", "7", *keys_file])
    assert policy.exit_code == 0
    assert "retain code 7 days" in runner.invoke(tenants_group, ["list", *keys_file]).stdout
    missing = runner.invoke(keys_group, ["revoke", "ffffffff", *keys_file])
    assert missing.exit_code != 0


def test_without_keys_the_gateway_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "keystroke", "serve", "--host", "0.0.0.0", "--port", "0"]
    env = {**os.environ, "KEYSTROKE_DATA_DIR": str(tmp_path)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in result.stderr
    assert "keystroke keys create --tenant" in result.stderr
