"""Reach-throughs: where transports and benchmarks go through a service to a part of one of its parts.

    python tools/reach_through.py [SRC]

Counts, in transports/ and benchmarks/, chains of two or more attribute hops from a service object (`service`,
`editor`, `ls.editor`, `self.service`, ...), e.g. `service.backend.info`; settings reads are counted too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOTS = {"service", "editor", "served", "stalled", "plain", "helped"}


def chain(node: ast.Attribute) -> tuple[str | None, list[str]]:
    hops = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        hops.append(current.attr)
        current = current.value
    return (current.id if isinstance(current, ast.Name) else None), hops[::-1]


def reach_throughs(src: Path) -> list[tuple[str, int, str]]:
    found = set()
    for folder in ("transports", "benchmarks"):
        for path in sorted((src / "keystroke" / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Attribute):
                    continue
                name, hops = chain(node)
                if name in ("self", "ls") and hops and hops[0] in ("service", "editor"):
                    name, hops = hops[0], hops[1:]
                if name in ROOTS and len(hops) >= 2 and not hops[0].startswith("__"):
                    found.add((str(path.relative_to(src)), node.lineno, ".".join([name, *hops[:2]])))
    lines = {}
    for path, line, text in sorted(found):
        lines.setdefault((path, line), text)  # one per line: the outermost chain was seen first
    return [(path, line, text) for (path, line), text in sorted(lines.items())]


def main() -> None:
    found = reach_throughs(Path(sys.argv[1] if len(sys.argv) > 1 else "src"))
    for path, line, text in found:
        print(f"{path}:{line}: {text}")
    print("total", len(found))


if __name__ == "__main__":
    main()
