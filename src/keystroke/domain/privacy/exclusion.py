"""Content exclusion: which files are never read, so they can never reach a prompt.

On by default. A path is excluded when it matches a default rule (secrets such as `.env*`, `*.pem`, `*.key`,
`id_rsa*` and credentials folders; dependency and virtual-environment trees; version-control metadata), a
user pattern (gitignore syntax), or the repository's own `.gitignore` files (applied by the walker). A file's
content is excluded when it is larger than the size limit or looks binary (a NUL byte, or not valid UTF-8).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pathspec

DEFAULT_PATTERNS: tuple[str, ...] = (
    # secrets and credentials
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    "credentials/",
    ".credentials/",
    "secrets/",
    ".aws/",
    ".ssh/",
    ".gnupg/",
    ".docker/",
    ".kube/",
    # dependency trees, virtual environments, build output and caches
    "node_modules/",
    ".venv/",
    "venv/",
    "virtualenv/",
    ".tox/",
    ".nox/",
    "site-packages/",
    "__pycache__/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".pytest_cache/",
    # version control
    ".git/",
    ".hg/",
    ".svn/",
)

MAX_FILE_BYTES = 1_000_000
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class ExclusionRules:
    """Default rules plus the user's extra patterns (gitignore syntax); `max_bytes` caps a readable file."""

    extra_patterns: tuple[str, ...] = ()
    max_bytes: int = MAX_FILE_BYTES
    _spec: pathspec.GitIgnoreSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = DEFAULT_PATTERNS + self.extra_patterns
        object.__setattr__(self, "_spec", pathspec.GitIgnoreSpec.from_lines(patterns))

    def excludes_path(self, relpath: str, *, is_dir: bool = False) -> bool:
        """Whether a path (relative to the workspace, '/'-separated) is excluded by name."""
        return self._spec.match_file(relpath + "/" if is_dir else relpath)

    def excludes_named(self, path: str) -> bool:
        """Whether a path as a request or an editor names it (relative or absolute) is excluded by name; an
        absolute path is matched from its root, so folder and file rules still apply."""
        return self.excludes_path(PurePosixPath(path).as_posix().lstrip("/"))

    def excludes_size(self, size: int) -> bool:
        return size > self.max_bytes


def is_virtualenv(entries: Iterable[str]) -> bool:
    """A directory holding `pyvenv.cfg` is a virtual environment, whatever its name."""
    return "pyvenv.cfg" in entries


def decode_text(data: bytes) -> str | None:
    """The file's text, or None when it looks binary (a NUL byte early on) or is not valid UTF-8."""
    if b"\0" in data[:_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
