"""Walk a workspace the way git would see it, minus everything the exclusion rules keep out.

`.gitignore` and `.keystrokeignore` files apply to their own directory and below (nested ones add to their
parents'), as in git; `.keystrokeignore` keeps files out of keystroke without touching git's view.
Symbolic links are not followed, so a walk never leaves the workspace or loops.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from keystroke.domain.context.languages import language_of
from keystroke.domain.privacy.exclusion import ExclusionRules, is_virtualenv

IGNORE_FILES = (".gitignore", ".keystrokeignore")
KEYSTROKE_IGNORE = ".keystrokeignore"


@dataclass(frozen=True)
class WalkedFile:
    relpath: str
    path: Path
    size: int
    mtime_ns: int
    language: str


@dataclass(frozen=True)
class _Ignore:
    base: str  # the directory holding the .gitignore, relative to the root ('' for the root)
    spec: pathspec.GitIgnoreSpec

    def matches(self, relpath: str, is_dir: bool) -> bool:
        inner = relpath[len(self.base) + 1 :] if self.base else relpath
        return self.spec.match_file(inner + "/" if is_dir else inner)


def walk(root: Path, rules: ExclusionRules) -> Iterator[WalkedFile]:
    """Every indexable source file under `root`, in a deterministic (sorted) order."""
    yield from _walk_dir(root, "", rules, ())


def _walk_dir(directory: Path, rel: str, rules: ExclusionRules, ignores: tuple[_Ignore, ...]) -> Iterator[WalkedFile]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return  # unreadable directory: nothing to index there
    names = [entry.name for entry in entries]
    if rel and is_virtualenv(names):
        return
    for name in IGNORE_FILES:
        if name in names:
            ignores = (*ignores, _Ignore(rel, _read_gitignore(directory / name)))
    for entry in entries:
        relpath = f"{rel}/{entry.name}" if rel else entry.name
        try:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir()
            if rules.excludes_path(relpath, is_dir=is_dir) or any(i.matches(relpath, is_dir) for i in ignores):
                continue
            if is_dir:
                yield from _walk_dir(Path(entry.path), relpath, rules, ignores)
                continue
            language = language_of(entry.name)
            if language is None:
                continue
            stat = entry.stat()
        except OSError:
            continue
        if not rules.excludes_size(stat.st_size):
            yield WalkedFile(relpath, Path(entry.path), stat.st_size, stat.st_mtime_ns, language)


def _read_gitignore(path: Path) -> pathspec.GitIgnoreSpec:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def walk_one(root: Path, relpath: str, rules: ExclusionRules) -> WalkedFile | None:
    """The file at `relpath` if `walk` would yield it (same rules, every `.gitignore` above it), else None."""
    parts = relpath.split("/")
    ignores: tuple[_Ignore, ...] = ()
    directory = root
    for depth in range(len(parts)):
        rel = "/".join(parts[:depth])
        if depth and (rules.excludes_path(rel, is_dir=True) or any(i.matches(rel, True) for i in ignores)):
            return None
        if depth and (directory / "pyvenv.cfg").exists():
            return None
        for name in IGNORE_FILES:
            if (directory / name).is_file():
                ignores = (*ignores, _Ignore(rel, _read_gitignore(directory / name)))
        if depth < len(parts) - 1:
            directory = directory / parts[depth]
    path = root / relpath
    language = language_of(path.name)
    if language is None or rules.excludes_path(relpath) or any(i.matches(relpath, False) for i in ignores):
        return None
    try:
        if path.is_symlink() or not path.is_file():
            return None
        stat = path.stat()
    except OSError:
        return None
    if rules.excludes_size(stat.st_size):
        return None
    return WalkedFile(relpath, path, stat.st_size, stat.st_mtime_ns, language)


def keystroke_ignored(root: Path, relpath: str) -> bool:
    """Whether a `.keystrokeignore` file in `relpath`'s folder or above excludes it (the current-file check:
    a file git ignores may still be edited and completed, one keystroke is told to ignore may not)."""
    parts = relpath.split("/")
    for depth in range(len(parts)):
        rel = "/".join(parts[:depth])
        ignore_file = root.joinpath(*parts[:depth], KEYSTROKE_IGNORE)
        if ignore_file.is_file():
            ignore = _Ignore(rel, _read_gitignore(ignore_file))
            inner = ["/".join(parts[: d + 1]) for d in range(depth, len(parts))]
            if any(ignore.matches(path, index < len(inner) - 1) for index, path in enumerate(inner)):
                return True
    return False
