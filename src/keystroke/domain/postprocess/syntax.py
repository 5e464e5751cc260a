"""Does a suggestion break the code around it? (Python: the compiler decides.)

Only the enclosing top-level statement is compiled: from the nearest line before the cursor that starts in
column 0 to the next such line after it (at most `MAX_LINES` each way; further than that, no verdict). The
suggestion is blamed only for an error on its own lines or on the line right after them, because code that
is being edited often does not compile for reasons of its own. With no code after the cursor in the
statement there is no evidence, and no verdict: an unfinished `for x in y:` at the end of a file is fine.
"""

from __future__ import annotations

import warnings

from keystroke.domain.cursor import CursorContext

MAX_LINES = 300
PYTHON_NAMES = frozenset({"python", "py", "python3"})


def breaks_python(ctx: CursorContext, completion: str) -> bool:
    """True when inserting `completion` at the cursor makes the statement fail to compile near it."""
    head = _statement_head(ctx.prefix)
    tail = _statement_tail(ctx.suffix)
    if head is None or tail is None or not tail.strip():
        return False
    as_new_line = not ctx.line_prefix.strip() and bool(ctx.line_suffix.strip())
    inserted = completion + "\n" if as_new_line else completion
    first_line = head.count("\n") + 1
    last_line = first_line + completion.count("\n")
    source = head + inserted + tail
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<completion>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return error.lineno is not None and first_line <= error.lineno <= last_line + 1
    except (ValueError, OverflowError, RecursionError, MemoryError):
        return False
    return False


def is_python(language: str | None, filepath: str | None) -> bool:
    return (language or "").lower() in PYTHON_NAMES or (filepath or "").endswith((".py", ".pyi"))


def _statement_head(prefix: str) -> str | None:
    """The prefix from the start of its last top-level line (decorators included), or None if too far."""
    end = len(prefix)
    for _ in range(MAX_LINES):
        start = prefix.rfind("\n", 0, max(end - 1, 0)) + 1
        line = prefix[start:end]
        if start == 0 or (line[:1].strip() and not line.startswith(("#", ")", "]", "}"))):
            while start > 0 and _previous_line(prefix, start).startswith("@"):
                start = prefix.rfind("\n", 0, start - 1) + 1
            return prefix[start:]
        end = start
    return None


def _statement_tail(suffix: str) -> str | None:
    """The suffix up to the next top-level line, or None if that is too far."""
    start = 0
    for _ in range(MAX_LINES):
        newline = suffix.find("\n", start)
        if newline < 0:
            return suffix
        following = suffix[newline + 1 : newline + 2]
        if following.strip() and following not in "#)]}":
            return suffix[: newline + 1]
        start = newline + 1
    return None


def _previous_line(text: str, start: int) -> str:
    return text[text.rfind("\n", 0, start - 1) + 1 : start - 1]
