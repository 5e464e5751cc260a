"""The audit log: one record per request, with no code in it unless the tenant's policy says so.

A record holds who (tenant), what (model, lane, trigger), how much (byte sizes, tokens, snippets, secrets
redacted), how fast (a latency bucket, not the exact figure), how it ended (outcome) and the request id. The
prompt and completion are kept only for a tenant with `retain_code` on, and are deleted when their
retention period ends (`purge`, run on every write at most once a minute). Reads are always by tenant: there
is no query that returns another tenant's records.

SQLite (WAL, `synchronous=NORMAL`), owner-only (0600): an insert costs tens of microseconds. Thread-safe: one
connection behind a lock. `path=None` keeps the log in memory (tests, `--no-audit`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from keystroke.domain.privacy.tenants import Tenant
from keystroke.domain.storage import private_file
from keystroke.errors import ConfigError

BUCKETS_MS = (50, 100, 200, 300, 500, 1000, 2000, 5000)
PURGE_EVERY_S = 60.0
DAY_S = 86_400.0


@dataclass(frozen=True)
class AuditRecord:
    request_id: str
    model: str
    lane: str  # inline, multiline, or the endpoint's name
    trigger: str
    prefix_bytes: int
    suffix_bytes: int
    snippets: int
    redactions: int
    prompt_tokens: int
    cached_tokens: int
    completion_chars: int
    latency: str  # bucket of the first action (or of the whole request when nothing was shown)
    outcome: str  # shown, abstained:<reason>, cancelled, excluded, error


@dataclass(frozen=True)
class RetainedCode:
    prompt: str
    completion: str


def latency_bucket(ms: float | None) -> str:
    if ms is None:
        return "none"
    for bound in BUCKETS_MS:
        if ms < bound:
            return f"<{bound}ms"
    return f">={BUCKETS_MS[-1]}ms"


_COLUMNS = [f.name for f in fields(AuditRecord)]


class AuditLog:
    def __init__(self, path: Path | None, clock: Any = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(private_file(path)) if path else ":memory:", check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the audit log {path}: {exc}") from exc
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        columns = ", ".join(f"{f.name} {'INTEGER' if f.type == 'int' else 'TEXT'}" for f in fields(AuditRecord))
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS audit (at REAL, tenant TEXT, {columns}, prompt TEXT, completion TEXT,"
            " expires REAL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS audit_tenant ON audit (tenant, at)")
        self._purged = 0.0

    def record(self, tenant: Tenant, record: AuditRecord, code: RetainedCode | None = None) -> None:
        """Append a record; `code` is stored only when the tenant's policy retains code."""
        now = self._clock()
        keep = code if tenant.retain_code else None
        values = [now, tenant.name, *asdict(record).values()]
        values += [keep.prompt, keep.completion, now + tenant.retention_days * DAY_S] if keep else [None, None, None]
        marks = ", ".join("?" * len(values))
        with self._lock:
            self._db.execute(f"INSERT INTO audit VALUES ({marks})", values)
            self._db.commit()
        if now - self._purged > PURGE_EVERY_S:
            self.purge()

    def records(self, tenant: Tenant, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's most recent records, newest first (code fields only where retained)."""
        with self._lock:
            cursor = self._db.execute(
                f"SELECT at, {', '.join(_COLUMNS)}, prompt, completion FROM audit WHERE tenant = ? "
                "ORDER BY at DESC LIMIT ?",
                (tenant.name, limit),
            )
            rows = cursor.fetchall()
        names = ["at", *_COLUMNS, "prompt", "completion"]
        result = []
        for row in rows:
            item = dict(zip(names, row, strict=True))
            if item["prompt"] is None:
                del item["prompt"], item["completion"]
            result.append(item)
        return result

    def purge(self) -> int:
        """Delete retained code past its retention period; the number of records cleared."""
        now = self._clock()
        self._purged = now
        with self._lock:
            cursor = self._db.execute(
                "UPDATE audit SET prompt = NULL, completion = NULL, expires = NULL WHERE expires < ?", (now,)
            )
            self._db.commit()
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
