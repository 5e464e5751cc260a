"""Which files the index reads, by extension, and the tree-sitter grammar for each language."""

from __future__ import annotations

import posixpath

# extension -> (language id as editors name it, tree-sitter grammar in tree-sitter-language-pack)
_BY_EXTENSION: dict[str, tuple[str, str]] = {
    ".py": ("python", "python"),
    ".pyi": ("python", "python"),
    ".js": ("javascript", "javascript"),
    ".mjs": ("javascript", "javascript"),
    ".cjs": ("javascript", "javascript"),
    ".jsx": ("javascriptreact", "javascript"),
    ".ts": ("typescript", "typescript"),
    ".tsx": ("typescriptreact", "tsx"),
    ".go": ("go", "go"),
    ".rs": ("rust", "rust"),
    ".java": ("java", "java"),
    ".c": ("c", "c"),
    ".h": ("c", "c"),
    ".cc": ("cpp", "cpp"),
    ".cpp": ("cpp", "cpp"),
    ".hpp": ("cpp", "cpp"),
    ".rb": ("ruby", "ruby"),
}

GRAMMARS: dict[str, str] = dict(_BY_EXTENSION.values())


def language_of(filename: str) -> str | None:
    """The language id of a file, or None when the index does not read that kind of file."""
    entry = _BY_EXTENSION.get(posixpath.splitext(filename)[1].lower())
    return entry[0] if entry else None


def grammar_of(language: str) -> str | None:
    return GRAMMARS.get(language)
