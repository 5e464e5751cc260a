"""Telemetry storage: one SQLite file per tenant, and the rates derived from it.

Each tenant's events go to `<dir>/<tenant>.sqlite3` (tenant names are checked identifiers), so one tenant's
data can be exported or deleted on its own and no query can mix two tenants by mistake. `dir=None` keeps
everything in memory (tests). Only writing creates a tenant's file: reading a tenant that has none answers
from an empty in-memory table, so a read never costs a file or a descriptor. At most `MAX_OPEN` files are
open at once (least recently used closed first); files are created owner-only (0600, in a 0700 folder), since
their tenant may retain code elsewhere and their contents are nobody else's. Thread-safe: one lock around the
connections; an insert costs tens of microseconds (WAL, `synchronous=NORMAL`).

Derived, over a time window:
- acceptance rate: shown suggestions with at least one accept / shown suggestions;
- retained-character rate at each horizon: characters still there / characters accepted;
- shown rate: shown / eligible requests (shown + abstained + stale); abstain rate: abstained / eligible.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from keystroke.domain.privacy.tenants import check_tenant_name
from keystroke.domain.storage import private_directory, private_file
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.retention import HORIZONS_S

_COLUMNS = [f.name for f in fields(Event)]
MAX_OPEN = 32  # tenants' files open at once


@dataclass(frozen=True)
class Rates:
    shown: int
    eligible: int
    accepted: int  # shown suggestions accepted (whole or in part)
    dismissed: int
    typed_over: int
    abstained: int
    acceptance_rate: float | None
    shown_rate: float | None
    abstain_rate: float | None
    retained_rate: dict[str, float | None]  # by horizon, "30s", "120s", "300s"


@dataclass(frozen=True)
class Bucket:
    """One time bucket of the rates over time."""

    start: float
    shown: int
    acceptance_rate: float | None
    retained_rate_30s: float | None


class TelemetryStore:
    def __init__(self, directory: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock
        self._lock = threading.Lock()
        self._dbs: OrderedDict[str, sqlite3.Connection] = OrderedDict()
        self._empty = _open(":memory:")  # what a tenant without a file reads
        if directory is not None:
            private_directory(directory)

    def add(self, tenant: str, events: Iterable[Event]) -> int:
        now = self._clock()
        rows = [(now, *asdict(e).values()) for e in events]
        marks = ", ".join("?" * (len(_COLUMNS) + 1))
        with self._lock:
            db = self._db(tenant, create=True)
            db.executemany(f"INSERT INTO events VALUES ({marks})", rows)
            db.commit()
        return len(rows)

    def tenants(self) -> list[str]:
        """Every tenant with telemetry (on disk, or in memory)."""
        with self._lock:
            names = set(self._dbs)
        if self.directory is not None:
            names |= {p.stem for p in self.directory.glob("*.sqlite3")}
        return sorted(names)

    def rates(self, tenant: str, since: float = 0.0) -> Rates:
        counts = dict(self._query(tenant, "SELECT kind, COUNT(*) FROM events WHERE at >= ? GROUP BY kind", since))
        accepted = self._query(
            tenant, "SELECT COUNT(DISTINCT suggestion_id) FROM events WHERE kind = 'accepted' AND at >= ?", since
        )[0][0]
        shown, abstained = counts.get("shown", 0), counts.get("abstained", 0)
        eligible = shown + abstained + counts.get("stale", 0)
        retained = {
            f"{h:g}s": _ratio(*self._query(tenant, _RETAINED, since, h)[0]) for h in HORIZONS_S
        }  # fmt: skip
        return Rates(
            shown=shown,
            eligible=eligible,
            accepted=accepted,
            dismissed=counts.get("dismissed", 0),
            typed_over=counts.get("typed_over", 0),
            abstained=abstained,
            acceptance_rate=_ratio(accepted, shown),
            shown_rate=_ratio(shown, eligible),
            abstain_rate=_ratio(abstained, eligible),
            retained_rate=retained,
        )

    def latencies(self, tenant: str, since: float = 0.0) -> dict[str, list[float]]:
        """First-action latencies (ms) of shown suggestions, by lane."""
        found: dict[str, list[float]] = {}
        sql = "SELECT lane, latency_ms FROM events WHERE kind = 'shown' AND latency_ms IS NOT NULL AND at >= ?"
        for lane, ms in self._query(tenant, sql, since):
            found.setdefault(lane or "unknown", []).append(float(ms))
        return found

    def lanes(self, tenant: str, since: float = 0.0) -> dict[str, int]:
        """Shown suggestions by lane (the result cache's share is its hit ratio among shown suggestions)."""
        sql = "SELECT lane, COUNT(*) FROM events WHERE kind = 'shown' AND at >= ? GROUP BY lane"
        return {lane or "unknown": n for lane, n in self._query(tenant, sql, since)}

    def over_time(self, tenant: str, bucket_s: float, since: float = 0.0) -> list[Bucket]:
        """Acceptance and 30 s retention per time bucket, oldest first."""
        sql = (
            "SELECT CAST(at / ? AS INTEGER) AS b, SUM(kind = 'shown'),"
            " COUNT(DISTINCT CASE WHEN kind = 'accepted' THEN suggestion_id END),"
            " SUM(CASE WHEN kind = 'retained' AND horizon_s = ? THEN retained ELSE 0 END),"
            " SUM(CASE WHEN kind = 'retained' AND horizon_s = ? THEN chars ELSE 0 END)"
            " FROM events WHERE at >= ? GROUP BY b ORDER BY b"
        )
        rows = self._query(tenant, sql, bucket_s, HORIZONS_S[0], HORIZONS_S[0], since)
        return [
            Bucket(b * bucket_s, shown, _ratio(acc, shown), _ratio(kept, chars)) for b, shown, acc, kept, chars in rows
        ]

    def close(self) -> None:
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()

    @property
    def open_files(self) -> int:
        with self._lock:
            return len(self._dbs)

    def _query(self, tenant: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db(tenant, create=False).execute(sql, args).fetchall())

    def _db(self, tenant: str, *, create: bool) -> sqlite3.Connection:
        db = self._dbs.get(tenant)
        if db is not None:
            self._dbs.move_to_end(tenant)
            return db
        if self.directory is None:
            if not create:
                return self._empty
            db = _open(":memory:")
        else:
            path = self.directory / f"{check_tenant_name(tenant)}.sqlite3"
            if not create and not path.exists():
                return self._empty
            db = _open(str(private_file(path)))
        self._dbs[tenant] = db
        while self.directory is not None and len(self._dbs) > MAX_OPEN:
            self._dbs.popitem(last=False)[1].close()
        return db


def _open(where: str) -> sqlite3.Connection:
    db = sqlite3.connect(where, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"CREATE TABLE IF NOT EXISTS events (at REAL, {', '.join(_COLUMNS)})")
    db.execute("CREATE INDEX IF NOT EXISTS events_at ON events (at)")
    return db


_RETAINED = "SELECT SUM(retained), SUM(chars) FROM events WHERE kind = 'retained' AND at >= ? AND horizon_s = ?"


def _ratio(part: Any, whole: Any) -> float | None:
    return float(part or 0) / float(whole) if whole else None
