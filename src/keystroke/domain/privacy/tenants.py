"""Tenants and their API keys: who is asking, derived from the credential and nothing else.

A key reads `ks_<id>_<secret>`: the id (8 hex digits) finds the record, the secret (43 URL-safe characters,
256 random bits) proves possession. The key file stores, per key, only the SHA-256 of the whole key (a
random 256-bit secret needs no slow hash), and a check compares digests with `hmac.compare_digest`, against
a dummy digest when the id is unknown, so the time taken does not say whether an id exists.

The file (JSON, written atomically with mode 0600) also holds each tenant's policy: disabled (its keys get
403), `retain_code` with a retention period (the audit log may keep prompts and completions), and `admin`
(its keys read every tenant's telemetry on the dashboard, and `/metrics`). `KeyStore`
rereads it when it changes on disk, so `keystroke keys create` takes effect without a restart.
Thread-safe: a lock around the loaded state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from keystroke.domain.storage import private_directory
from keystroke.errors import ConfigError

LOCAL = "local"  # the tenant of a gateway without keys (loopback only)
KEY_PATTERN = re.compile(r"ks_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_DUMMY_DIGEST = hashlib.sha256(b"keystroke: no such key").hexdigest()
RECHECK_S = 1.0


@dataclass(frozen=True)
class Tenant:
    """The security context of a request; travels explicitly into cache keys, context and the audit log."""

    name: str
    disabled: bool = False
    retain_code: bool = False
    retention_days: int = 30
    admin: bool = False  # its keys may read every tenant's dashboard and the gateway's /metrics

    def namespace(self, model: str, tokenizer: str) -> str:
        """The cache namespace of this tenant's requests to one model."""
        return f"{self.name}\x1f{model}\x1f{tokenizer}"


@dataclass(frozen=True)
class KeyRecord:
    id: str
    tenant: str
    digest: str
    created: float
    revoked: bool = False


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a key: a tenant, or why not (`status` 401 or 403)."""

    tenant: Tenant | None
    status: int = 200
    reason: str = ""


@dataclass
class _State:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise ConfigError(f"tenant name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting alphanumeric")
    return name


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state = _State()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._reload(force=True)

    # -- authentication --------------------------------------------------------------------------------

    @property
    def has_keys(self) -> bool:
        self._reload()
        return any(not record.revoked for record in self._state.keys.values())

    def authenticate(self, key: str) -> Verdict:
        """The tenant a key belongs to; 401 for an unknown, malformed, truncated or revoked key, 403 for a key
        of a disabled tenant."""
        self._reload()
        match = KEY_PATTERN.fullmatch(key)
        record = self._state.keys.get(match.group(1)) if match else None
        expected = record.digest if record is not None else _DUMMY_DIGEST
        valid = hmac.compare_digest(digest(key), expected) and record is not None
        if not valid or record is None or record.revoked:
            return Verdict(None, 401, "the API key is not valid (unknown, malformed, truncated or revoked)")
        tenant = self._state.tenants.get(record.tenant, Tenant(record.tenant))
        if tenant.disabled:
            return Verdict(None, 403, f"tenant {tenant.name} is disabled")
        return Verdict(tenant)

    # -- administration (the `keystroke keys` and `keystroke tenants` commands) --------------------------

    def create(self, tenant: str) -> tuple[KeyRecord, str]:
        """A new key for `tenant` (created if new): the record and the key, which is shown once."""
        check_tenant_name(tenant)
        with self._lock:
            self._reload(force=True)
            key_id = secrets.token_hex(4)
            while key_id in self._state.keys:
                key_id = secrets.token_hex(4)
            key = f"ks_{key_id}_{secrets.token_urlsafe(32)}"
            record = KeyRecord(key_id, tenant, digest(key), time.time())
            self._state.keys[key_id] = record
            self._state.tenants.setdefault(tenant, Tenant(tenant))
            self._save()
        return record, key

    def revoke(self, key_id: str) -> KeyRecord:
        with self._lock:
            self._reload(force=True)
            record = self._state.keys.get(key_id)
            if record is None:
                raise ConfigError(f"no key with id {key_id!r}; `keystroke keys list` shows the ids")
            self._state.keys[key_id] = replace(record, revoked=True)
            self._save()
        return self._state.keys[key_id]

    def update_tenant(self, name: str, **changes: Any) -> Tenant:
        with self._lock:
            self._reload(force=True)
            if name not in self._state.tenants:
                raise ConfigError(f"no tenant {name!r}; create a key for it with `keystroke keys create --tenant`")
            self._state.tenants[name] = replace(self._state.tenants[name], **changes)
            self._save()
        return self._state.tenants[name]

    def tenants(self) -> list[Tenant]:
        self._reload()
        return sorted(self._state.tenants.values(), key=lambda t: t.name)

    def tenant(self, name: str) -> Tenant | None:
        self._reload()
        return self._state.tenants.get(name)

    def keys(self) -> list[KeyRecord]:
        self._reload()
        return sorted(self._state.keys.values(), key=lambda r: (r.tenant, r.created))

    # -- the file ----------------------------------------------------------------------------------------

    def _reload(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < RECHECK_S:
            return
        self._checked = now
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._state, self._stamp = _State(), None
            return
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file {self.path}: {exc.strerror}; choose another place with "
                "$KEYSTROKE_DATA_DIR or server.keys_file"
            ) from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._state, self._stamp = _parse(self.path), stamp

    def _save(self) -> None:
        data = {
            "tenants": {name: asdict(t) for name, t in sorted(self._state.tenants.items())},
            "keys": [asdict(r) for r in self._state.keys.values()],
        }
        private_directory(self.path.parent)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.replace(temporary, self.path)
        self._stamp = None


def _parse(path: Path) -> _State:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tenants = {name: Tenant(**fields) for name, fields in data.get("tenants", {}).items()}
        keys = {record["id"]: KeyRecord(**record) for record in data.get("keys", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ConfigError(f"key file {path} is unreadable ({exc}); restore it or remove it to start over") from exc
    return _State(tenants, keys)
