"""The context sources after prefix and suffix, each a function of the query and the index.

3) `definitions`: signatures and docstrings of the symbols used near the cursor and imported by the current
   file, resolved through the index; 4) `recent_edits`: the code around places recently edited in other
   files; 5) `neighbours`: the best window of open or related files, by Jaccard similarity of identifiers with
   the code around the cursor; 6) `retrieval`: BM25 windows of the whole repository for the identifiers
   near the cursor. None of them returns anything from the current file (prefix and suffix cover it) or
   from a file the index does not hold (excluded files are never indexed).
"""

from __future__ import annotations

import builtins
import keyword
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.items import ContextItem
from keystroke.domain.context.parsing import IDENTIFIER, Definition, Import, identifiers_in
from keystroke.domain.context.recent import RecentEdits
from keystroke.domain.context.snippets import terms

LOCAL_BEFORE = 30  # lines before the cursor that make up "the code around the cursor"
LOCAL_AFTER = 10
QUERY_LINES = 12  # lines before the cursor that make up a retrieval query
EDIT_RADIUS = 6
NEIGHBOUR_WINDOW = 20
MAX_DEFINITIONS = 8
MAX_METHODS = 8
MAX_AMBIGUOUS = 2  # a name defined in more places than this is not looked up by name alone
MAX_NEAR = 24
MEMBER_CHARS = 640  # a receiver's member listing, about 160 tokens: within the context budget with room left
SIGNATURE_CHARS = 80
_RECEIVER = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\.(\w*)$")
_ATTRIBUTE = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
_BINDING = re.compile(r"^[ \t]*(?:(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)|(\w+)[ \t]*(?::[^=\n]*)?=(?!=))", re.M)
_PARAMETERS = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(([^)]*)\)", re.M)
_CALLED = re.compile(r"\b(\w+)\(")
_BUILTINS = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | {"self", "cls"}


@dataclass(frozen=True)
class Query:
    filepath: str  # relative to the workspace
    prefix: str
    suffix: str
    imports: tuple[Import, ...] = ()
    open_files: tuple[str, ...] = ()
    near: tuple[str, ...] | None = None  # code identifiers around the cursor, nearest first (from the tree)

    def before(self, lines: int) -> str:
        """The last `lines` lines before the cursor (the cursor's own line counts)."""
        return "\n".join(self.prefix.rsplit("\n", lines)[-lines:])

    def after(self, lines: int) -> str:
        return "\n".join(self.suffix.split("\n", lines)[:lines])

    @cached_property
    def local_text(self) -> str:
        return self.before(LOCAL_BEFORE) + self.after(LOCAL_AFTER)

    def names_near_cursor(self) -> list[str]:
        """Identifiers around the cursor, nearest first (before the cursor, then after it)."""
        if self.near is not None:
            return list(self.near)
        before = IDENTIFIER.findall(self.before(LOCAL_BEFORE))
        after = IDENTIFIER.findall(self.after(LOCAL_AFTER))
        return list(dict.fromkeys([*reversed(before), *after]))


def definitions(index: RepositoryIndex, query: Query) -> list[ContextItem]:
    """What the cursor is after (`Name.` -> the members of that class or module), then definitions of what
    the current file imports (names used near the cursor first, then the rest), then of classes and called
    functions near the cursor that the file does not bind itself and that only one or two places in the
    repository define."""
    near = [name for name in query.names_near_cursor() if name not in _BUILTINS][:MAX_NEAR]
    rank = {name: i for i, name in enumerate(near)}
    found: dict[tuple[str, str], tuple[int, str, Definition]] = {}

    def add(path: str, definition: Definition, order: int) -> None:
        key = (path, definition.name)
        if path != query.filepath and (key not in found or found[key][0] > order):
            found[key] = (order, path, definition)

    modules = _imported(index, query, add, rank)
    for base, attribute in _ATTRIBUTE.findall(query.local_text):
        for path in modules.get(base, ()):
            for definition in index.store.definitions_in(path):
                if not definition.scope and definition.name == attribute:
                    add(path, definition, rank.get(attribute, rank.get(base, len(rank))))
    resolved = {name for _, name in found} | set(modules) | _bound_in(query.prefix + query.suffix)
    local = query.local_text
    called = set(_CALLED.findall(local))
    wanted = [n for n in near if n not in resolved and (n[:1].isupper() or n in called)]
    for hit in index.definitions(wanted, unique=MAX_AMBIGUOUS):
        if hit.definition.kind != "variable":
            add(hit.relpath, hit.definition, len(rank) + rank.get(hit.definition.name, 0))
    ordered = sorted(found.values(), key=lambda entry: (entry[0], entry[1], entry[2].line))
    receiver = _receiver_item(index, query, modules)
    if receiver is not None:
        ordered = [entry for entry in ordered if (entry[1], entry[2].name) != (receiver.filepath, receiver.name)]
    items = [_definition_item(index, path, d) for _, path, d in ordered[: MAX_DEFINITIONS - (receiver is not None)]]
    return [receiver.item, *items] if receiver is not None else items


@dataclass(frozen=True)
class _Receiver:
    filepath: str
    name: str  # the class, or "" for a module
    item: ContextItem


def _receiver_item(index: RepositoryIndex, query: Query, modules: dict[str, list[str]]) -> _Receiver | None:
    """When the cursor follows `Name.` (and maybe the start of a member), the members `Name` offers: a class
    the file imports from another file, or a module of the repository; those starting with what is typed
    first, then public before private, in file order, within `MEMBER_CHARS`."""
    match = _RECEIVER.search(query.prefix[-200:])
    if match is None:
        return None
    name, typed = match.groups()
    for path in modules.get(name, ()):
        if path != query.filepath:
            top = [d for d in index.store.definitions_in(path) if not d.scope]
            return _Receiver(path, "", _members_item(path, 0, "", top, typed))
    for imported in query.imports:
        if name not in imported.names:
            continue
        for path in index.resolve_module(imported.module, imported.level, query.filepath):
            found = index.store.definitions_in(path)
            for definition in found:
                if definition.name == name and not definition.scope and definition.kind == "class":
                    members = [d for d in found if d.scope == name]
                    header = definition.signature + ":"
                    return _Receiver(path, name, _members_item(path, definition.line, header, members, typed))
    return None


def _members_item(path: str, line: int, header: str, members: list[Definition], typed: str) -> ContextItem:
    ranked = sorted(
        members, key=lambda d: (not d.name.startswith(typed) if typed else False, d.name.startswith("_"), d.line)
    )
    indent = "    " if header else ""
    lines = [header] if header else []
    used = len(header)
    for member in ranked:
        text = indent + _one_line(member)
        if used + len(text) > MEMBER_CHARS:
            break
        lines.append(text)
        used += len(text) + 1
    return ContextItem("definitions", path, "\n".join(lines), line)


def _one_line(definition: Definition) -> str:
    """A definition as one line: a signature cut to `SIGNATURE_CHARS`, with `: ...` for a def or class."""
    signature = " ".join(definition.signature.split())
    if len(signature) > SIGNATURE_CHARS:
        signature = signature[: SIGNATURE_CHARS - 4].rstrip() + " ..."
    return signature if definition.kind == "variable" else signature + ": ..."


def _imported(
    index: RepositoryIndex, query: Query, add: Callable[[str, Definition, int], None], rank: dict[str, int]
) -> dict[str, list[str]]:
    """Add the definitions the current file imports by name; return the modules it imports, by local name."""
    modules: dict[str, list[str]] = {}
    for position, imported in enumerate(query.imports):
        if not imported.names:
            paths = index.resolve_module(imported.module, imported.level, query.filepath)
            if paths:
                modules[imported.module] = modules[imported.module.rsplit(".", 1)[-1]] = paths
            continue
        paths = index.resolve_module(imported.module, imported.level, query.filepath)
        for name in imported.names:
            dotted = f"{imported.module}.{name}" if imported.module else name
            submodule = index.resolve_module(dotted, imported.level, query.filepath)
            if submodule:
                modules[name] = submodule
                continue
            for path in paths:
                for definition in index.store.definitions_in(path):
                    if not definition.scope and definition.name == name:
                        add(path, definition, rank.get(name, len(rank) + position))
    return modules


def _bound_in(text: str) -> set[str]:
    """Names the current file defines, assigns or takes as parameters: local, so not looked up elsewhere."""
    bound = {a or b for a, b in _BINDING.findall(text)}
    for parameters in _PARAMETERS.findall(text):
        bound.update(IDENTIFIER.findall(re.sub(r"(:|=)[^,]*", "", parameters)))
    return bound


def recent_edits(index: RepositoryIndex, recent: RecentEdits, query: Query) -> list[ContextItem]:
    items: list[ContextItem] = []
    for place in recent.places(exclude=query.filepath):
        lines = index.lines(place.filepath)
        if lines is None:
            continue
        start = max(0, min(place.line, len(lines)) - EDIT_RADIUS)
        body = "\n".join(lines[start : place.line + EDIT_RADIUS + 1]).strip("\n")
        if body:
            items.append(ContextItem("recent_edits", place.filepath, body, start))
    return items


def neighbours(index: RepositoryIndex, query: Query, limit: int = 3) -> list[ContextItem]:
    local = identifiers_in(query.local_text)
    if not local:
        return []
    scored: list[tuple[float, str]] = []
    for path in related_files(index, query):
        parts = index.identifiers(path)
        if parts:
            scored.append((_jaccard(local, parts), path))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    items: list[ContextItem] = []
    for similarity, path in scored[:limit]:
        if similarity <= 0:
            break
        window = _best_window(index, path, local)
        if window is not None:
            items.append(ContextItem("neighbours", path, window[1], window[0]))
    return items


def related_files(index: RepositoryIndex, query: Query, limit: int = 24) -> list[str]:
    """Open files, files the current one imports, and its siblings in the same directory, in that order."""
    related = list(query.open_files)
    for imported in query.imports:
        related.extend(index.resolve_module(imported.module, imported.level, query.filepath))
    folder = posixpath.dirname(query.filepath)
    related.extend(index.files_in(folder))
    unique = [p for p in dict.fromkeys(related) if p != query.filepath and index.holds(p)]
    return unique[:limit]


def retrieval(index: RepositoryIndex, query: Query, k: int = 6) -> list[ContextItem]:
    if index.snippets is None:
        return []
    words = terms(query.before(QUERY_LINES) + "\n" + query.after(3))
    items: list[ContextItem] = []
    for hit in index.snippets.search(words, k, exclude=query.filepath):
        lines = index.lines(hit.window.relpath)
        if lines is None:
            continue
        body = "\n".join(lines[hit.window.start : hit.window.end]).strip("\n")
        if body:
            items.append(ContextItem("retrieval", hit.window.relpath, body, hit.window.start))
    return items


def _definition_item(index: RepositoryIndex, path: str, definition: Definition) -> ContextItem:
    opens_block = path.endswith((".py", ".pyi")) and definition.kind != "variable"
    lines = [definition.signature + (":" if opens_block else "")]
    if definition.docstring:
        doc = definition.docstring.split("\n")[:3]
        lines.append('    """' + "\n    ".join(doc) + '"""')
    if definition.kind == "class":
        methods = [d for d in index.store.definitions_in(path) if d.scope == definition.name]
        lines += ["    " + _one_line(m) for m in methods[:MAX_METHODS]]
    return ContextItem("definitions", path, "\n".join(lines), definition.line)


def _jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


def _best_window(index: RepositoryIndex, path: str, local: set[str]) -> tuple[int, str] | None:
    best: tuple[float, int] | None = None
    for start, words in index.window_identifiers(path, NEIGHBOUR_WINDOW):
        score = _jaccard(local, words)
        if best is None or score > best[0]:
            best = (score, start)
    lines = index.lines(path)
    if best is None or lines is None:
        return None
    body = "\n".join(lines[best[1] : best[1] + NEIGHBOUR_WINDOW]).strip("\n")
    return (best[1], body) if body else None
