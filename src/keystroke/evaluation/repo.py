"""Repository-level evaluation: does cross-file context help complete lines that use another file's symbols?

Cases are cut from a real repository, in the manner of CrossCodeEval: a line of a Python file that uses a
name the file imports from another file of the same repository, cut where the other file's API is what comes
next; the reference is the rest of the line. Two kinds: `member`, just after `Name.` where Name is a class or
module of the repository and the member is one it defines (`pricing.|with_tax(amount)`); `call`, just after
`name(` of a function or class defined there, so the arguments are the reference. Each case is
completed twice by the same completion service and engine: with no context, and with the context service
collecting from the repository's index at full depth (the current file is never a source, so the answer
cannot be read from it). Exact match and edit similarity are reported for both, on the same cases.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tree_sitter import Tree

from keystroke.domain.context.index import RepositoryIndex
from keystroke.domain.context.parsing import Import, imports_of, parse
from keystroke.domain.statistics import percentiles
from keystroke.evaluation.metrics import edit_similarity, exact_match
from keystroke.services.completion import CompletionService
from keystroke.services.context import ContextService
from keystroke.services.types import CompletionRequest

Progress = Callable[[int], None]
PER_FILE = 5
KINDS = ("member", "call")
_SKIP = re.compile(r"^\s*(?:from\s|import\s|def\s|class\s|async\s+def\s|@|#|\"\"\"|''')")


@dataclass(frozen=True)
class RepoCase:
    filepath: str
    line: int  # 0-based
    column: int
    symbol: str
    prefix: str
    suffix: str
    reference: str
    kind: str = "member"  # "member": cut after `Name.`; "call": cut after `name(`


@dataclass
class RepoResult:
    case: RepoCase
    plain: str
    with_context: str
    plain_ms: float
    context_ms: float
    snippets: int

    def scores(self) -> dict[str, float]:
        reference = self.case.reference
        return {
            "plain_em": float(exact_match(self.plain, reference)),
            "context_em": float(exact_match(self.with_context, reference)),
            "plain_es": edit_similarity(self.plain, reference),
            "context_es": edit_similarity(self.with_context, reference),
        }


@dataclass
class RepoReport:
    repository: str
    model: str
    results: list[RepoResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "model": self.model,
            **_scores(self.results),
            "kinds": {kind: _scores([r for r in self.results if r.case.kind == kind]) for kind in KINDS},
            "plain_ms": percentiles([r.plain_ms for r in self.results], (50, 95)),
            "context_ms": percentiles([r.context_ms for r in self.results], (50, 95)),
            "snippets": percentiles([float(r.snippets) for r in self.results], (50,)),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "results": [{**asdict(r), **r.scores(), "case": asdict(r.case)} for r in self.results],
        }


def _scores(results: Sequence[RepoResult]) -> dict[str, Any]:
    """Case count, mean scores with and without context, and the uplift of each."""
    totals = {"plain_em": 0.0, "context_em": 0.0, "plain_es": 0.0, "context_es": 0.0}
    for result in results:
        for key, value in result.scores().items():
            totals[key] += value
    means = {key: value / len(results) if results else 0.0 for key, value in totals.items()}
    return {
        "cases": len(results),
        **means,
        "em_uplift": means["context_em"] - means["plain_em"],
        "es_uplift": means["context_es"] - means["plain_es"],
    }


def find_cases(index: RepositoryIndex, limit: int, seed: int = 0) -> list[RepoCase]:
    """Up to `limit` cases, at most `PER_FILE` per file, in a shuffled but reproducible order."""
    cases: list[RepoCase] = []
    for relpath in sorted(index.files):
        if relpath.endswith(".py"):
            cases.extend(list(_cases_in(index, relpath))[:PER_FILE])
    random.Random(seed).shuffle(cases)
    return cases[:limit]


@dataclass(frozen=True)
class _Target:
    """A name the file imports from another file of the repository: what it offers after a dot (a class's
    members or a module's top-level definitions) and whether it can be called."""

    members: frozenset[str]
    callable: bool


def _cases_in(index: RepositoryIndex, relpath: str) -> Iterator[RepoCase]:
    text = index.read(relpath)
    if text is None:
        return
    tree = parse(text, "python")
    if tree is None:
        return
    targets = _cross_file_targets(index, relpath, imports_of(tree, "python"))
    if not targets:
        return
    names = "|".join(re.escape(name) for name in sorted(targets))
    member = re.compile(r"(?<![\w.])(" + names + r")\.([A-Za-z_]\w*)")
    call = re.compile(r"(?<![\w.])(" + names + r")\((?!\s*\))")
    importing = _import_lines(tree)
    offset = 0
    for number, line in enumerate(text.split("\n")):
        start, offset = offset, offset + len(line) + 1
        if number in importing or _SKIP.match(line):
            continue
        found = _cut(line, targets, member, call)
        if found is None:
            continue
        kind, symbol, column = found
        reference = line[column:].rstrip()
        if len(reference) < 2:
            continue
        yield RepoCase(
            relpath, number, column, symbol, text[: start + column], text[start + len(line) :], reference, kind
        )


def _cut(
    line: str, targets: dict[str, _Target], member: re.Pattern[str], call: re.Pattern[str]
) -> tuple[str, str, int] | None:
    """Where a case cuts the line, as CrossCodeEval does: just after `Name.` when the member is one the
    other file defines, else just after `name(` of a function or class defined there (the arguments are the
    reference). A use inside a string is no case. Returns (kind, symbol, column)."""
    for match in member.finditer(line):
        if match.group(2) in targets[match.group(1)].members and not _quoted(line[: match.start()]):
            return "member", f"{match.group(1)}.{match.group(2)}", match.end(1) + 1
    for match in call.finditer(line):
        if targets[match.group(1)].callable and not _quoted(line[: match.start()]):
            return "call", match.group(1), match.end()
    return None


def _import_lines(tree: Tree) -> set[int]:
    """Lines of import statements, continuation lines of a parenthesized import included."""
    rows: set[int] = set()
    for node in tree.root_node.named_children:
        if node.type in ("import_statement", "import_from_statement", "future_import_statement"):
            rows.update(range(node.start_point.row, node.end_point.row + 1))
    return rows


def _quoted(before: str) -> bool:
    """Whether a position follows an open string quote on its line (a use inside a string is no case)."""
    return before.count('"') % 2 == 1 or before.count("'") % 2 == 1


def _cross_file_targets(index: RepositoryIndex, relpath: str, imports: Sequence[Import]) -> dict[str, _Target]:
    """Names this file imports from another indexed file: classes and functions that file defines at top
    level, and modules of the repository (`from pkg import module`, `import module`)."""
    targets: dict[str, _Target] = {}
    for imported in imports:
        if not imported.names:
            paths = index.resolve_module(imported.module, imported.level, relpath)
            if paths and "." not in imported.module and relpath not in paths:
                targets[imported.module] = _module_target(index, paths)
            continue
        paths = [p for p in index.resolve_module(imported.module, imported.level, relpath) if p != relpath]
        for name in imported.names:
            dotted = f"{imported.module}.{name}" if imported.module else name
            submodule = [p for p in index.resolve_module(dotted, imported.level, relpath) if p != relpath]
            if submodule:
                targets[name] = _module_target(index, submodule)
                continue
            for path in paths:
                definitions = index.store.definitions_in(path)
                kinds = {d.kind for d in definitions if not d.scope and d.name == name}
                if kinds & {"class", "function"}:
                    members = frozenset(d.name for d in definitions if d.scope == name)
                    targets[name] = _Target(members, callable=True)
                    break
    return targets


def _module_target(index: RepositoryIndex, paths: Sequence[str]) -> _Target:
    members = {d.name for path in paths for d in index.store.definitions_in(path) if not d.scope}
    return _Target(frozenset(members), callable=False)


async def evaluate(
    plain: CompletionService,
    with_context: CompletionService,
    cases: list[RepoCase],
    repository: str,
    progress: Progress | None = None,
) -> RepoReport:
    """Complete every case without context, then every case with it; cases in file order, so consecutive
    prompts share a prefix in the KV cache (both passes alike)."""
    report = RepoReport(repository, plain.backend.info.name)
    context = with_context.context
    assert isinstance(context, ContextService)
    ordered = sorted(cases, key=lambda case: (case.filepath, case.line))
    bare = []
    for case in ordered:
        bare.append(await plain.complete(_request(case)))
        if progress:
            progress(1)
    for number, (case, alone) in enumerate(zip(ordered, bare, strict=True)):
        context.forget()  # each case stands alone: no open files or edits carried over from the previous one
        helped = await with_context.complete(_request(case, session=f"case-{number}"))
        report.results.append(
            RepoResult(
                case, alone.text, helped.text, alone.timings.total_ms, helped.timings.total_ms, helped.context.snippets
            )
        )
        if progress:
            progress(1)
    return report


def _request(case: RepoCase, session: str | None = None) -> CompletionRequest:
    return CompletionRequest(case.prefix, case.suffix, "python", case.filepath, mode="inline", session_id=session)


def format_repo(summary: dict[str, Any]) -> str:
    ms = summary["plain_ms"], summary["context_ms"]
    rows = [
        f"repository evaluation: {summary['repository']} · {summary['cases']} cases · model {summary['model']}",
        f"{'':28}{'no context':>12}{'with context':>14}{'uplift':>10}",
        _score_row("exact match", summary["plain_em"], summary["context_em"]),
        _score_row("edit similarity", summary["plain_es"], summary["context_es"]),
    ]
    for kind, scores in summary["kinds"].items():
        if scores["cases"]:
            rows.append(f"  {kind} cases ({scores['cases']})")
            rows.append(_score_row("  exact match", scores["plain_em"], scores["context_em"]))
            rows.append(_score_row("  edit similarity", scores["plain_es"], scores["context_es"]))
    rows += [
        f"  {'latency p50 / p95 ms':26}{_pair(ms[0]):>12}{_pair(ms[1]):>14}",
        f"  snippets per case p50: {summary['snippets']['p50'] or 0:.0f}",
    ]
    return "\n".join(rows)


def _score_row(label: str, plain: float, helped: float) -> str:
    return f"  {label:26}{plain:12.3f}{helped:14.3f}{helped - plain:+10.3f}"


def _pair(values: dict[str, float | None]) -> str:
    return " / ".join("-" if v is None else f"{v:.0f}" for v in values.values())
