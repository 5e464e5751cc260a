"""Files the gateway keeps for its tenants, created owner-only, with one clear error when that is impossible.

The key file, the audit log (which may retain redacted code) and the telemetry databases are nobody else's
business on a shared machine: folders are created 0700 and files 0600, before SQLite opens them (SQLite gives
its `-wal` and `-shm` files the mode of the database file). A file left readable by an older version is made
owner-only when opened. A folder that cannot be created or written (read-only, a file in the way, no
permission) is a `ConfigError` naming the path, the reason and the setting that moves it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from keystroke.errors import ConfigError

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_MOVE_IT = "choose another place with $KEYSTROKE_DATA_DIR (or the server.keys_file, audit_db, telemetry_dir settings)"


def private_directory(path: Path) -> Path:
    """Create `path` (and its parents) if missing, every new folder owner-only; check it is writable."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    try:
        for folder in reversed(missing):  # the outermost first; `mkdir(parents=True)` would use the umask
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    except OSError as exc:
        raise _unusable(path, exc) from exc
    if not path.is_dir():
        raise ConfigError(f"cannot keep data in {path}: it is not a folder; {_MOVE_IT}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot keep data in {path}: the folder is not writable; {_MOVE_IT}")
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and owner-only if missing (its folder too), or make an existing one owner-only."""
    private_directory(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        os.close(descriptor)
        for companion in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
            if companion.exists() and stat.S_IMODE(companion.stat().st_mode) & 0o077:
                companion.chmod(FILE_MODE)
    except OSError as exc:
        raise _unusable(path, exc) from exc
    return path


def _unusable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot keep data in {path}: {exc.strerror or exc}; {_MOVE_IT}")
