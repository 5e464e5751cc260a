"""The repository index: every indexable file of a workspace, summarized, cached and searchable.

`build()` walks the workspace (exclusion rules and `.gitignore` applied), re-reads only files whose size or
mtime changed since the cache last saw them, re-parses only content it has never seen, and loads the snippet
index when it was built from the same file hashes (else rebuilds it). Large first builds fan out to worker
processes. `update(paths)` applies file-change events incrementally. Nothing excluded is ever read, so
nothing excluded can reach a prompt through the index.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import posixpath
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from keystroke.domain.context.cache import LruCache
from keystroke.domain.context.parsing import FileSummary, identifiers_in, summarize
from keystroke.domain.context.snippets import SnippetIndex, Window, block_terms, windows_from_blocks
from keystroke.domain.context.store import FileRecord, Located, ProjectStore
from keystroke.domain.context.walker import WalkedFile, walk, walk_one
from keystroke.domain.privacy.exclusion import ExclusionRules, decode_text
from keystroke.errors import ConfigError

Progress = Callable[[int, int], None]  # (done, total)

PARALLEL_FROM = 200  # files to read before worker processes pay for their start-up


@dataclass(frozen=True)
class IndexSummary:
    files: int
    parsed: int
    reused: int
    removed: int
    symbols: int
    windows: int
    seconds: float
    snippets: str  # "loaded", "rebuilt" or "masked" (changed files left out until the next rebuild)


@dataclass(frozen=True)
class _Read:
    """What a worker hands back for one file: its hash, summary and window terms (None: binary or unreadable)."""

    relpath: str
    record: FileRecord | None
    summary: FileSummary | None
    blocks: list[str] = field(default_factory=list)


def default_cache_dir() -> Path:
    configured = os.environ.get("KEYSTROKE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keystroke"


def workspace_cache(cache_dir: Path, root: Path) -> Path:
    """The workspace's own directory in the cache: its name plus a hash of its absolute path."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return cache_dir / "index" / f"{root.resolve().name or 'root'}-{digest}"


class RepositoryIndex:
    def __init__(
        self, root: Path, rules: ExclusionRules | None = None, cache_dir: Path | None = None, workers: int = 0
    ) -> None:
        self.root = root.resolve()
        self.rules = rules or ExclusionRules()
        self.directory = workspace_cache(cache_dir or default_cache_dir(), self.root)
        self.store = ProjectStore(self.directory / "project.sqlite")
        self.snippets: SnippetIndex | None = None
        self._workers = workers or min(4, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._records: dict[str, FileRecord] = {}
        self.last_summary: IndexSummary | None = None
        self._folders: tuple[dict[str, FileRecord], dict[str, list[str]]] | None = None
        self._texts: LruCache[tuple[str, str], str | None] = LruCache("file texts", 256)
        self._lines: LruCache[tuple[str, str], list[str] | None] = LruCache("file lines", 256)
        self._identifiers: LruCache[tuple[str, str], frozenset[str]] = LruCache("file identifiers", 1024)
        self._windows: LruCache[tuple[str, str, int], list[tuple[int, frozenset[str]]]] = LruCache(
            "window identifiers", 256
        )

    def close(self) -> None:
        self.store.close()

    @property
    def files(self) -> dict[str, FileRecord]:
        return dict(self._records)

    def build(self, progress: Progress | None = None, max_files: int | None = None) -> IndexSummary:
        """Index the workspace; with `max_files`, refuse (ConfigError) a tree holding more files to index,
        having walked no further than that."""
        started = time.perf_counter()
        walked = list(itertools.islice(walk(self.root, self.rules), None if max_files is None else max_files + 1))
        if max_files is not None and len(walked) > max_files:
            raise ConfigError(f"{self.root} holds more than {max_files} files to index: not indexed")
        known = self.store.files()
        unchanged = [known[f.relpath] for f in walked if _same_stat(known.get(f.relpath), f)]
        changed = [f for f in walked if not _same_stat(known.get(f.relpath), f)]
        if progress:
            progress(len(unchanged), len(walked))
        reads = list(self._read_all(changed, progress, len(unchanged), len(walked)))
        records = unchanged + [r.record for r in reads if r.record is not None]
        current = {r.relpath for r in records}
        removed = [path for path in known if path not in current]
        fresh = {r.record.hash: r.summary for r in reads if r.record is not None and r.summary is not None}
        known_hashes = self.store.known_hashes(fresh)
        new = {h: s for h, s in fresh.items() if h not in known_hashes}
        self.store.save(records, new, removed)
        self.store.prune()
        with self._lock:
            self._records = {r.relpath: r for r in records}
        snippets = self._refresh_snippets(reads)
        files, symbols = self.store.counts()
        windows = len(self.snippets.windows) if self.snippets else 0
        elapsed = time.perf_counter() - started
        summary = IndexSummary(
            files, len(new), len(records) - len(new), len(removed), symbols, windows, elapsed, snippets
        )
        self.last_summary = summary
        return summary

    def update(self, relpaths: Iterable[str]) -> IndexSummary:
        """Apply changes to these paths (edited, created or deleted files); changed files leave the snippet
        index until `rebuild_snippets`."""
        started = time.perf_counter()
        paths = sorted(set(relpaths))
        wanted = {f.relpath: f for f in self._walk_paths(paths)}
        reads = [
            _read_file(f.relpath, str(f.path), f.size, f.mtime_ns, f.language, parse=True, cut=False)
            for f in wanted.values()
        ]
        records = [r.record for r in reads if r.record is not None]
        removed = [p for p in paths if p not in {r.relpath for r in records} and p in self._records]
        fresh = {r.record.hash: r.summary for r in reads if r.record is not None and r.summary is not None}
        self.store.save(records, fresh, removed)
        with self._lock:
            current = dict(self._records)  # replaced, never mutated: readers may be iterating the old one
            for path in removed:
                current.pop(path, None)
            current.update({r.relpath: r for r in records})
            self._records = current
        if self.snippets is not None:
            self.snippets.mark_stale([*removed, *(r.relpath for r in records)])
        files, symbols = self.store.counts()
        windows = len(self.snippets.windows) if self.snippets else 0
        elapsed = time.perf_counter() - started
        return IndexSummary(files, len(fresh), 0, len(removed), symbols, windows, elapsed, "masked")

    def rebuild_snippets(self) -> None:
        """Re-cut the snippet index from the files as they are now (slow on a large tree: call it off the hot path)."""
        self._build_snippets(self._read_all(self._walk_paths(sorted(self._records)), None, 0, 0, parse=False))

    def holds(self, relpath: str) -> bool:
        return relpath in self._records

    def files_in(self, folder: str) -> list[str]:
        """Indexed files directly in `folder` ('' for the root), sorted."""
        records = self._records
        if self._folders is None or self._folders[0] is not records:
            folders: dict[str, list[str]] = {}
            for path in sorted(records):
                folders.setdefault(posixpath.dirname(path), []).append(path)
            self._folders = (records, folders)
        return list(self._folders[1].get(folder, ()))

    def read(self, relpath: str) -> str | None:
        """An indexed file's text as last indexed; None for a path that is not indexed (excluded, binary,
        unknown). Cached by content hash (256 files)."""
        record = self._records.get(relpath)
        if record is None:
            return None
        return self._texts.get_or_compute((relpath, record.hash), lambda: self._read_text(relpath))

    def lines(self, relpath: str) -> list[str] | None:
        """`read`, split into lines (cached too; callers must not modify the list)."""
        record = self._records.get(relpath)
        if record is None:
            return None
        return self._lines.get_or_compute((relpath, record.hash), lambda: _split(self.read(relpath)))

    def cached_lines(self, relpath: str) -> list[str] | None:
        """`lines` if they are in memory already, without touching the disk (which may hold newer text)."""
        record = self._records.get(relpath)
        return self._lines.get((relpath, record.hash)) if record is not None else None

    def identifiers(self, relpath: str) -> frozenset[str]:
        """The identifier set of an indexed file (from the project cache; 1024 files kept in memory)."""
        record = self._records.get(relpath)
        if record is None:
            return frozenset()
        return self._identifiers.get_or_compute((relpath, record.hash), lambda: self.store.identifiers(relpath))

    def window_identifiers(self, relpath: str, lines: int) -> list[tuple[int, frozenset[str]]]:
        """(first line, identifier set) of each half-overlapping window of `lines` lines of a file."""
        record = self._records.get(relpath)
        if record is None:
            return []
        return self._windows.get_or_compute(
            (relpath, record.hash, lines), lambda: _cut_windows(self.read(relpath) or "", lines)
        )

    def clear_caches(self) -> None:
        for cache in (self._texts, self._lines, self._identifiers, self._windows):
            cache.clear()

    def _read_text(self, relpath: str) -> str | None:
        """The file's text, under the rules the walk applied: never through a symlink, never over the size
        limit, never binary (the file may have changed since it was indexed)."""
        path = self.root / relpath
        try:
            if path.is_symlink() or self.rules.excludes_size(path.stat().st_size):
                return None
            return decode_text(path.read_bytes())
        except OSError:
            return None

    def definitions(self, names: Iterable[str], unique: int = 2, limit: int = 50) -> list[Located]:
        """Top-level definitions of these names, for names defined in at most `unique` indexed places."""
        hits = self.store.definitions_named(names, unique, limit)
        return [hit for hit in hits if hit.relpath in self._records]

    def resolve_module(self, module: str, level: int = 0, importer: str = "") -> list[str]:
        """Indexed files a Python import can mean: `a.b` -> a/b.py or a/b/__init__.py, anywhere in the tree,
        or b.py when the workspace is package `a` itself. Relative imports resolve from the importer."""
        if level:
            parent = Path(importer).parent
            for _ in range(level - 1):
                parent = parent.parent
            base = str(parent / module.replace(".", "/")) if module else str(parent)
            return [path for path in _module_files(base.removeprefix("./")) if path in self._records]
        candidates = _module_files(module.replace(".", "/"))
        found = [path for path in candidates if path in self._records]
        if not found:
            found = sorted(p for p in self._records for c in candidates if p.endswith("/" + c))[:3]
        head, _, rest = module.partition(".")
        if not found and head == self.root.name:  # the workspace is the package itself
            found = [path for path in _module_files(rest.replace(".", "/") or "__init__") if path in self._records]
        return found

    def _refresh_snippets(self, reads: Sequence[_Read]) -> str:
        """Load the saved snippet index if it was cut from these very files, else cut it again, re-reading
        only the files this build did not just read."""
        hashes = {path: record.hash for path, record in self._records.items()}
        saved = SnippetIndex.load(self.directory / "snippets")
        if saved is not None and saved.hashes == hashes:
            self.snippets = saved
            return "loaded"
        fresh = {read.relpath for read in reads if read.record is not None}
        others = self._walk_paths(sorted(set(self._records) - fresh))
        self._build_snippets([*reads, *self._read_all(others, None, 0, 0, parse=False)])
        return "rebuilt"

    def _build_snippets(self, reads: Iterable[_Read]) -> None:
        def documents() -> Iterator[tuple[Window, list[str]]]:
            for read in reads:
                yield from windows_from_blocks(read.relpath, read.blocks)

        hashes = {path: record.hash for path, record in self._records.items()}
        index = SnippetIndex.build(documents(), hashes)
        index.save(self.directory / "snippets")
        self.snippets = index

    def _walk_paths(self, relpaths: Sequence[str]) -> list[WalkedFile]:
        wanted = set(relpaths)
        if len(wanted) > 50:
            return [f for f in walk(self.root, self.rules) if f.relpath in wanted]
        found = (walk_one(self.root, relpath, self.rules) for relpath in sorted(wanted))
        return [walked for walked in found if walked is not None]

    def _read_all(
        self, files: Sequence[WalkedFile], progress: Progress | None, done: int, total: int, parse: bool = True
    ) -> Iterator[_Read]:
        jobs = [(f.relpath, str(f.path), f.size, f.mtime_ns, f.language, parse) for f in files]
        if len(jobs) < PARALLEL_FROM or self._workers < 2:
            results: Iterable[_Read] = (_read_file(*job) for job in jobs)
            yield from _counted(results, progress, done, total)
            return
        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        with ProcessPoolExecutor(self._workers, mp_context=context) as pool:
            yield from _counted(pool.map(_read_job, jobs, chunksize=16), progress, done, total)


def _module_files(base: str) -> tuple[str, str, str]:
    return f"{base}.py", f"{base}/__init__.py", f"{base}.pyi"


def _split(text: str | None) -> list[str] | None:
    return text.split("\n") if text is not None else None


def _cut_windows(text: str, lines: int) -> list[tuple[int, frozenset[str]]]:
    rows = text.split("\n")
    step = max(1, lines // 2)
    cut = []
    for start in range(0, max(1, len(rows) - step), step):
        words = frozenset(identifiers_in("\n".join(rows[start : start + lines])))
        if words:
            cut.append((start, words))
    return cut


def _counted(results: Iterable[_Read], progress: Progress | None, done: int, total: int) -> Iterator[_Read]:
    for result in results:
        done += 1
        if progress:
            progress(done, total)
        yield result


def _same_stat(record: FileRecord | None, walked: WalkedFile) -> bool:
    return record is not None and record.size == walked.size and record.mtime_ns == walked.mtime_ns


def _read_job(job: tuple[str, str, int, int, str, bool]) -> _Read:
    """Module-level, so worker processes can unpickle it."""
    return _read_file(*job)


def _read_file(
    relpath: str, path: str, size: int, mtime_ns: int, language: str, parse: bool, cut: bool = True
) -> _Read:
    """Read, hash and (if `parse`) summarize one file, and (if `cut`) cut its snippet windows."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return _Read(relpath, None, None)
    text = decode_text(data)
    if text is None:
        return _Read(relpath, None, None)
    record = FileRecord(relpath, hashlib.blake2b(data, digest_size=16).hexdigest(), size, mtime_ns)
    blocks = block_terms(text) if cut else []
    return _Read(relpath, record, summarize(text, language) if parse else None, blocks)
