"""Content exclusion: what the index never reads, and so what can never reach a prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystroke.domain.context.walker import walk, walk_one
from keystroke.domain.privacy.exclusion import ExclusionRules, decode_text
from tests.fixtures.workspace import INDEXED


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        "config/.env.production",
        "deploy/server.pem",
        "keys/tls.key",
        "home/.ssh/id_rsa",
        "id_rsa.pub",
        "credentials/db.py",
        "src/secrets/token.py",
        ".aws/config",
        "web/node_modules/react/index.js",
        ".venv/lib/site.py",
        ".git/config",
    ],
)
def test_default_rules_exclude_secrets_dependencies_and_environments(path: str) -> None:
    assert ExclusionRules().excludes_path(path)


@pytest.mark.parametrize("path", ["src/app.py", "environment.py", "docs/keys.md", "tokenizer.py", "env_setup.py"])
def test_ordinary_source_files_are_not_excluded(path: str) -> None:
    assert not ExclusionRules().excludes_path(path)


def test_user_patterns_add_to_the_defaults() -> None:
    rules = ExclusionRules(extra_patterns=("vendor/", "*.gen.py"))
    assert rules.excludes_path("vendor/lib.py")
    assert rules.excludes_path("api/client.gen.py")
    assert rules.excludes_path(".env")


def test_binary_and_undecodable_content_is_refused() -> None:
    assert decode_text(b"print('hi')\n") == "print('hi')\n"
    assert decode_text(b"abc\x00def") is None
    assert decode_text("caf\xe9".encode("latin-1")) is None


def test_the_walk_yields_exactly_the_indexable_files(workspace: Path) -> None:
    walked = {f.relpath for f in walk(workspace, ExclusionRules())}
    # binaries and undecodable files are dropped when read, the huge one by size, the rest by path
    assert walked == INDEXED | {"shop/logo.py", "shop/latin1.py"}


def test_walk_one_agrees_with_the_walk(workspace: Path) -> None:
    rules = ExclusionRules()
    walked = {f.relpath for f in walk(workspace, rules)}
    candidates = [str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file()]
    assert {path for path in candidates if walk_one(workspace, path, rules) is not None} == walked


def test_nested_gitignore_applies_below_its_folder(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".gitignore").write_text("skip.py\n")
    for path in ("skip.py", "a/skip.py", "a/b/skip.py", "a/keep.py"):
        (tmp_path / path).write_text("x = 1\n")
    walked = {f.relpath for f in walk(tmp_path, ExclusionRules())}
    assert walked == {"skip.py", "a/keep.py"}
