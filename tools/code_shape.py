"""The shape of the package, for refactoring notes: lines per module, the longest functions, import cycles.

    python tools/code_shape.py [SRC] [--top N] [--modules a.py,b.py]

Cycles are counted over imports that run when a module loads (not those under `if TYPE_CHECKING:` nor inside
functions), the ones that can break an import.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def load_time_imports(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else ():
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                break
            if isinstance(inner, ast.Import):
                found.update(alias.name for alias in inner.names)
            elif isinstance(inner, ast.ImportFrom):
                base = inner.module or ""
                if inner.level:
                    anchor = package.split(".")[: len(package.split(".")) - inner.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in inner.names)
    return found


def functions(tree: ast.Module) -> list[tuple[int, str]]:
    sized = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            sized.append((node.end_lineno - node.lineno + 1 if node.end_lineno else 0, node.name))
    return sized


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", default="src")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--modules", default="", help="comma-separated paths (under SRC) to list lines of")
    args = parser.parse_args()
    src = Path(args.src)
    graph: dict[str, set[str]] = {}
    sizes: list[tuple[int, str]] = []
    total = 0
    for path in sorted(src.rglob("*.py")):
        text = path.read_text()
        total += len(text.splitlines())
        tree = ast.parse(text)
        name = module_name(path, src)
        graph[name] = load_time_imports(tree, name, path.name == "__init__.py")
        sizes += [(length, f"{path.relative_to(src)}:{fn}") for length, fn in functions(tree)]
    graph = {name: {other for other in deps if other in graph and other != name} for name, deps in graph.items()}
    print(f"package: {total} lines in {len(graph)} modules")
    for wanted in filter(None, args.modules.split(",")):
        path = src / wanted
        print(f"  {wanted}: {len(path.read_text().splitlines()) if path.exists() else 'gone'}")
    lengths = sorted(length for length, _ in sizes)
    print(f"functions: {len(lengths)}, median {lengths[len(lengths) // 2]} lines; longest:")
    for length, where in sorted(sizes, reverse=True)[: args.top]:
        print(f"  {length:4d}  {where}")
    found = cycles(graph)
    print(f"import cycles (at load time): {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))


if __name__ == "__main__":
    main()
