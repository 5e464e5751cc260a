"""Scoring a completion against the reference: exact match and edit similarity (pure functions)."""

from __future__ import annotations


def normalise_lines(text: str) -> list[str]:
    """Lines without trailing whitespace and without trailing blank lines; indentation counts."""
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def exact_match(prediction: str, reference: str) -> bool:
    return normalise_lines(prediction) == normalise_lines(reference)


def edit_similarity(prediction: str, reference: str) -> float:
    """1 - Levenshtein distance / length of the longer text, on normalised lines (1.0 = identical)."""
    left = "\n".join(normalise_lines(prediction))
    right = "\n".join(normalise_lines(reference))
    longest = max(len(left), len(right))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(left, right) / longest


def levenshtein(left: str, right: str) -> int:
    if len(left) < len(right):
        left, right = right, left
    previous = list(range(len(right) + 1))
    for i, char in enumerate(left, start=1):
        current = [i]
        for j, other in enumerate(right, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]
