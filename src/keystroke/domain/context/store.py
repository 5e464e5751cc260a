"""The project cache (tier L2): file summaries in SQLite, keyed by content hash.

One database per workspace under the cache directory. `files` maps each path to the hash of its content and
the (size, mtime) it had when hashed, so a restart re-reads only files whose stat changed and re-parses only
content it has never seen. Summaries and definitions are stored per hash, so a renamed or reverted file costs
nothing. Definitions are looked up by name with an index, never loaded wholesale.

Size: bounded by the workspace (one row per file, one per definition); summaries no file references any more
are deleted by `prune`. Thread-safety: one connection guarded by a lock; safe to share between threads.
Clear it with `clear()` or by deleting the directory.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from keystroke.domain.context.parsing import Definition, FileSummary

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    relpath TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS summaries (
    hash TEXT PRIMARY KEY, language TEXT NOT NULL, identifiers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS definitions (
    hash TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, signature TEXT NOT NULL,
    docstring TEXT NOT NULL, line INTEGER NOT NULL, scope TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS definitions_by_name ON definitions (name);
CREATE INDEX IF NOT EXISTS definitions_by_hash ON definitions (hash);
CREATE INDEX IF NOT EXISTS files_by_hash ON files (hash);
"""


@dataclass(frozen=True)
class FileRecord:
    relpath: str
    hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Located:
    """A definition and the file it is in."""

    relpath: str
    definition: Definition


class ProjectStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._meta("schema")
        if version is not None and version != SCHEMA_VERSION:
            self._drop_all()
        self._db.executescript(_SCHEMA)
        self._set_meta("schema", SCHEMA_VERSION)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def files(self) -> dict[str, FileRecord]:
        with self._lock:
            rows = self._db.execute("SELECT relpath, hash, size, mtime_ns FROM files").fetchall()
        return {row[0]: FileRecord(*row) for row in rows}

    def known_hashes(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT hash FROM summaries WHERE hash IN ({marks})", chunk).fetchall()
                found.update(row[0] for row in rows)
        return found

    def save(self, records: Sequence[FileRecord], summaries: dict[str, FileSummary], removed: Iterable[str]) -> None:
        """In one transaction: new summaries, the files' current hashes, and the paths that are gone."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._insert_summaries(summaries)
                self._db.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                    [(r.relpath, r.hash, r.size, r.mtime_ns) for r in records],
                )
                self._db.executemany("DELETE FROM files WHERE relpath = ?", [(path,) for path in removed])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def prune(self) -> int:
        """Delete summaries that no file references any more; how many went."""
        with self._lock:
            orphan = "SELECT hash FROM summaries WHERE hash NOT IN (SELECT hash FROM files)"
            self._db.execute(f"DELETE FROM definitions WHERE hash IN ({orphan})")
            return self._db.execute(f"DELETE FROM summaries WHERE hash IN ({orphan})").rowcount

    def definitions_named(self, names: Iterable[str], unique: int, limit: int = 50) -> list[Located]:
        """Top-level definitions of these names, leaving out names defined in more than `unique` places."""
        wanted = sorted(set(names))[:500]
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        top_level = f"FROM definitions d JOIN files f ON f.hash = d.hash WHERE d.scope = '' AND d.name IN ({marks})"
        query = (
            f"SELECT f.relpath, d.name, d.kind, d.signature, d.docstring, d.line, d.scope {top_level} "
            f"AND d.name IN (SELECT d.name {top_level} GROUP BY d.name HAVING COUNT(*) <= ?) "
            "ORDER BY f.relpath, d.line LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(query, [*wanted, *wanted, unique, limit]).fetchall()
        return [Located(row[0], Definition(row[1], row[2], row[3], row[4], row[5], row[6])) for row in rows]

    def definitions_in(self, relpath: str) -> list[Definition]:
        query = (
            "SELECT d.name, d.kind, d.signature, d.docstring, d.line, d.scope FROM definitions d "
            "JOIN files f ON f.hash = d.hash WHERE f.relpath = ? ORDER BY d.line"
        )
        with self._lock:
            rows = self._db.execute(query, (relpath,)).fetchall()
        return [Definition(*row) for row in rows]

    def identifiers(self, relpath: str) -> frozenset[str]:
        """A file's identifier set (empty when the path is not indexed)."""
        query = "SELECT s.identifiers FROM summaries s JOIN files f ON f.hash = s.hash WHERE f.relpath = ?"
        with self._lock:
            row = self._db.execute(query, (relpath,)).fetchone()
        return frozenset(row[0].split()) if row is not None else frozenset()

    def counts(self) -> tuple[int, int]:
        """(files, definitions) currently indexed."""
        with self._lock:
            files = self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
            symbols = self._db.execute("SELECT COUNT(*) FROM definitions d JOIN files f ON f.hash = d.hash").fetchone()[
                0
            ]
        return int(files), int(symbols)

    def clear(self) -> None:
        with self._lock:
            self._drop_all()
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _insert_summaries(self, summaries: dict[str, FileSummary]) -> None:
        self._db.executemany("DELETE FROM definitions WHERE hash = ?", [(digest,) for digest in summaries])
        self._db.executemany(
            "INSERT OR IGNORE INTO summaries VALUES (?, ?, ?)",
            [(digest, s.language, " ".join(s.identifiers)) for digest, s in summaries.items()],
        )
        self._db.executemany(
            "INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (digest, d.name, d.kind, d.signature, d.docstring, d.line, d.scope)
                for digest, s in summaries.items()
                for d in s.definitions
            ],
        )

    def _meta(self, key: str) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _drop_all(self) -> None:
        for table in ("meta", "files", "summaries", "definitions"):
            self._db.execute(f"DROP TABLE IF EXISTS {table}")
