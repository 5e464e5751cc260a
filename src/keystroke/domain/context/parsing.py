"""One source file -> what the context engine needs of it: definitions, imports and identifiers.

Definitions are the top-level and class-level ones (functions, classes, methods, module constants), each with
its signature and docstring, found with tree-sitter. Only the first two levels of the tree are visited, so a
31 MB tree such as the Python standard library parses in seconds. Identifiers are taken with a regular
expression rather than from the tree: the set is all that is needed and the expression is ten times faster
than visiting every leaf from Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal

from tree_sitter import Node, Parser, Query, QueryCursor, Tree

from keystroke.domain.context.languages import grammar_of

DefinitionKind = Literal["function", "class", "method", "variable"]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LONG_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}")  # three characters or more: the ones worth comparing
MAX_SIGNATURE = 200
MAX_DOCSTRING = 300

# node types per grammar; wrappers are unwrapped to the definition inside them
_FUNCTIONS = {
    "function_definition",
    "function_declaration",
    "function_item",
    "method_declaration",
    "method_definition",
    "method",
    "singleton_method",
    "generator_function_declaration",
}
_CLASSES = {
    "class_definition",
    "class_declaration",
    "class",
    "module",
    "interface_declaration",
    "struct_item",
    "enum_item",
    "trait_item",
    "impl_item",
    "type_declaration",
    "enum_declaration",
    "struct_specifier",
}
_WRAPPERS = {"decorated_definition": "definition", "export_statement": "declaration"}
_ASSIGNMENTS = {"expression_statement", "lexical_declaration", "const_declaration", "var_declaration"}
_ASSIGNMENT_ITEMS = {"assignment", "variable_declarator", "const_spec", "var_spec"}
_IMPORTS = {
    "import_statement",
    "import_from_statement",
    "future_import_statement",
    "import_declaration",
    "use_declaration",
    "preproc_include",
}
_BODY_FIELDS = ("body", "declaration_list")


@dataclass(frozen=True)
class Definition:
    name: str
    kind: DefinitionKind
    signature: str
    docstring: str
    line: int  # 0-based
    scope: str = ""  # the enclosing class, for methods

    @property
    def qualified(self) -> str:
        return f"{self.scope}.{self.name}" if self.scope else self.name


@dataclass(frozen=True)
class Import:
    module: str  # dotted for Python ('' for `from . import x`), the quoted path or use-path elsewhere
    names: tuple[str, ...] = ()
    level: int = 0  # Python's relative-import dots


@dataclass(frozen=True)
class FileSummary:
    language: str
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    identifiers: frozenset[str]


@cache
def parser_for(grammar: str) -> Parser:
    from tree_sitter_language_pack import get_parser

    return get_parser(grammar)  # type: ignore[arg-type]


def parse(text: str, language: str, old_tree: Tree | None = None) -> Tree | None:
    """The syntax tree of `text`, or None for a language without a grammar (`old_tree`: reuse after an edit)."""
    grammar = grammar_of(language)
    if grammar is None:
        return None
    data = text.encode("utf-8")
    return parser_for(grammar).parse(data, old_tree) if old_tree is not None else parser_for(grammar).parse(data)


def summarize(text: str, language: str, tree: Tree | None = None) -> FileSummary:
    tree = tree or parse(text, language)
    identifiers = frozenset(_LONG_IDENTIFIER.findall(text))
    if tree is None:
        return FileSummary(language, (), (), identifiers)
    definitions: list[Definition] = []
    imports: list[Import] = []
    for node in tree.root_node.named_children:
        imports.extend(_imports(node, language))
        definitions.extend(_definitions(node, ""))
    return FileSummary(language, tuple(definitions), tuple(imports), identifiers)


def imports_of(tree: Tree, language: str) -> tuple[Import, ...]:
    return tuple(i for node in tree.root_node.named_children for i in _imports(node, language))


_NAME_KINDS = ("identifier", "type_identifier", "field_identifier", "property_identifier", "constant")


@cache
def _name_query(grammar: str) -> Query:
    language = parser_for(grammar).language
    assert language is not None
    kinds = [kind for kind in _NAME_KINDS if language.id_for_node_kind(kind, True) is not None]
    return Query(language, "[" + " ".join(f"({kind})" for kind in kinds) + "] @name")


def code_names(tree: Tree, language: str, start_byte: int, end_byte: int) -> list[str]:
    """Identifiers in code (not in strings or comments) between two byte offsets, in source order."""
    grammar = grammar_of(language)
    if grammar is None:
        return []
    cursor = QueryCursor(_name_query(grammar))
    cursor.set_byte_range(start_byte, end_byte)
    nodes = cursor.captures(tree.root_node).get("name", [])
    return [_text(node) for node in sorted(nodes, key=lambda node: node.start_byte)]


def identifiers_in(text: str) -> set[str]:
    return set(_LONG_IDENTIFIER.findall(text))


def _definitions(outer: Node, scope: str) -> Iterator[Definition]:
    node = _unwrap(outer)
    kind: DefinitionKind | None = None
    if node.type in _FUNCTIONS:
        kind = "method" if scope else "function"
    elif node.type in _CLASSES:
        kind = "class"
    elif node.type in _ASSIGNMENTS:
        yield from _assignments(node, scope)
        return
    elif node.type in _ASSIGNMENT_ITEMS:
        yield from _assignment(node, node, scope)
        return
    if kind is None:
        return
    name = _name(node)
    if not name:
        return
    yield Definition(name, kind, _signature(node), _docstring(node, outer), node.start_point.row, scope)
    if kind == "class" and not scope:
        body = _body(node)
        for child in body.named_children if body is not None else ():
            yield from _definitions(child, name)


def _unwrap(node: Node) -> Node:
    field = _WRAPPERS.get(node.type)
    inner = node.child_by_field_name(field) if field else None
    return _unwrap(inner) if inner is not None else node


def _name(node: Node) -> str:
    name = node.child_by_field_name("name") or node.child_by_field_name("type")
    if name is None and node.type == "type_declaration":  # Go: type_declaration -> type_spec -> name
        spec = node.named_child(0)
        name = spec.child_by_field_name("name") if spec is not None else None
    if name is None and node.type == "function_definition":  # C: the name sits inside the declarator
        name = _innermost_identifier(node.child_by_field_name("declarator"))
    return _text(name) if name is not None else ""


def _innermost_identifier(node: Node | None) -> Node | None:
    while node is not None and node.type not in ("identifier", "field_identifier"):
        node = node.child_by_field_name("declarator")
    return node


def _body(node: Node) -> Node | None:
    for field in _BODY_FIELDS:
        body = node.child_by_field_name(field)
        if body is not None:
            return body
    return None


def _signature(node: Node) -> str:
    body = _body(node)
    end = body.start_byte if body is not None else node.end_byte
    text = (node.text or b"")[: end - node.start_byte].decode("utf-8", "replace")
    text = " ".join(text.split()).rstrip(":{ ")
    return text[:MAX_SIGNATURE]


def _docstring(node: Node, outer: Node) -> str:
    """Python's docstring, or else the comments right above the definition."""
    body = _body(node)
    first = body.named_child(0) if body is not None and body.named_child_count else None
    if first is not None and first.type == "expression_statement":
        first = first.named_child(0)
    if first is not None and first.type == "string":
        return _clean_docstring(_text(first))
    comments: list[str] = []
    previous = outer.prev_named_sibling
    while previous is not None and previous.type in ("comment", "line_comment", "block_comment"):
        comments.insert(0, _text(previous))
        previous = previous.prev_named_sibling
    return _clean_docstring("\n".join(comments))


def _clean_docstring(text: str) -> str:
    text = text.strip().strip("\"'").strip()
    lines = [line.strip().lstrip("/*#").strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)[:MAX_DOCSTRING]


def _assignments(statement: Node, scope: str) -> Iterator[Definition]:
    for child in statement.named_children:
        if child.type in _ASSIGNMENT_ITEMS:
            yield from _assignment(statement, child, scope)


def _assignment(statement: Node, item: Node, scope: str) -> Iterator[Definition]:
    target = item.child_by_field_name("left") or item.child_by_field_name("name")
    if target is not None and target.type == "identifier":
        line = _text(statement).split("\n", 1)[0]
        yield Definition(_text(target), "variable", line[:MAX_SIGNATURE], "", statement.start_point.row, scope)


def _imports(node: Node, language: str) -> Iterator[Import]:
    if node.type not in _IMPORTS:
        return
    if language != "python":
        source = node.child_by_field_name("source") or node.child_by_field_name("path")
        text = _text(source) if source is not None else _text(node).split(None, 1)[-1]
        yield Import(text.strip(" ;\"'<>"))
        return
    if node.type == "import_statement":
        for name in node.children_by_field_name("name"):
            imported = name.child_by_field_name("name") if name.type == "aliased_import" else name
            if imported is not None:
                yield Import(_text(imported))
        return
    module = node.child_by_field_name("module_name")
    if module is None:
        return
    level, dotted = 0, _text(module)
    if module.type == "relative_import":
        stripped = dotted.lstrip(".")
        level, dotted = len(dotted) - len(stripped), stripped
    names: list[str] = []
    for name in node.children_by_field_name("name"):
        target = name.child_by_field_name("name") if name.type == "aliased_import" else name
        if target is not None:
            names.append(_text(target))
    yield Import(dotted, tuple(names), level)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")
