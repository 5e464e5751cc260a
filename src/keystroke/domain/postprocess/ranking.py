"""Suffix-aware ranking: when the code after the cursor can tell which line belongs here.

A left-to-right model writes the line it finds most likely *after the prefix*, one token at a time: it cannot
see that the code below uses a variable the line should define, or is indented for a block the line should
open, and a greedy first token can lead into an unlikely line. When the cursor starts a line (nothing typed
on it yet), the engine decodes a few alternatives beside the greedy line, branching at its first two tokens,
and scores each as log P(line + the next `lines` lines of the suffix | prompt), or log P(line) when no code
follows: among the lines that keep Python compiling (where that can be checked) the most likely one wins.
While the user types inside a line, the greedy line is shown at once (no ranking).

A FIM prompt holds the suffix already, so there each line is scored as the whole middle instead:
log P(line [+ line end] | prompt) + log P(the middle ends there), the line end when code follows on the
cursor's line. Adding the suffix's lines as text after the middle would ask the model to write them twice.

Measured with the default model and with Qwen2.5-Coder on HumanEval single-line infilling: docs/measurements.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keystroke.domain.cursor import CursorContext
from keystroke.domain.engines.base import Candidate, RankPlan
from keystroke.domain.postprocess.shaping import Mode, shape
from keystroke.domain.postprocess.syntax import breaks_python


def following_text(ctx: CursorContext, lines: int) -> str:
    """What follows a suggestion that fills the cursor's line: the next `lines` lines of the suffix."""
    rows = ctx.suffix.split("\n")
    if ctx.line_suffix.strip():
        return "\n" + "\n".join(rows[:lines])
    return "\n".join(rows[: lines + 1])


def rank_plan(
    ctx: CursorContext, mode: Mode, *, alternatives: int, lines: int, python: bool, fim: bool = False
) -> RankPlan | None:
    """A plan when ranking can help: an inline suggestion for a line the user has not started typing.
    `fim`: the prompt holds the code after the cursor already, so a candidate is scored as the whole middle
    (the line, a line end when code follows on the cursor's line, then the end of the middle)."""
    if mode != "inline" or alternatives <= 0 or ctx.line_prefix.strip():
        return None
    if fim:
        joint = "\n" if ctx.line_suffix.strip() else ""  # the line, then the code after it on its own line
        return RankPlan(alternatives, joint, _accept(ctx), _contenders(ctx, python), then_end=True)
    continuation = following_text(ctx, lines) if lines > 0 else ""
    if not continuation.strip():
        continuation = ""  # nothing follows: rank by the line's own likelihood (a short beam)
    return RankPlan(alternatives, continuation, _accept(ctx), _contenders(ctx, python))


def _accept(ctx: CursorContext) -> Callable[[str], str | None]:

    def accept(raw: str) -> str | None:
        shaped = shape(raw, ctx, "inline", tail="complete")
        return shaped.text if shaped.complete and shaped.abstain is None else None

    return accept


def _contenders(ctx: CursorContext, python: bool) -> Callable[[list[str]], list[str]]:
    def contenders(texts: list[str]) -> list[str]:
        return keeps_compiling(texts, ctx) if python else texts

    return contenders


def keeps_compiling(texts: list[str], ctx: CursorContext) -> list[str]:
    """The texts that keep the Python around the cursor compiling; all of them if none does."""
    compiling = [text for text in texts if not breaks_python(ctx, text)]
    return compiling or texts


def choose(candidates: Sequence[Candidate]) -> Candidate | None:
    """The contender with the highest score (an unscored lone contender wins by default)."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: float("-inf") if c.score is None else c.score)
