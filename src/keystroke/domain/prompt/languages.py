"""Line-comment syntax per language, for context blocks placed in a prompt."""

from __future__ import annotations

_HASH = ("python", "ruby", "shell", "bash", "sh", "perl", "r", "yaml", "toml", "elixir", "julia", "powershell")
_DASHES = ("sql", "lua", "haskell")


def line_comment(language: str | None) -> str:
    """The line-comment marker of `language` (a VS Code language id); `//` when unknown."""
    name = (language or "").lower()
    if name in _HASH:
        return "#"
    if name in _DASHES:
        return "--"
    return "//"
