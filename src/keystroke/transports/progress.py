"""Progress bars the transports show (on a terminal only): indexing a workspace, preparing a model."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from keystroke.domain.context.index import Progress


@contextmanager
def indexing_bar() -> Iterator[Progress]:
    """A `Progress` callback drawing a bar on stderr; silent when stderr is not a terminal."""
    from tqdm import tqdm

    with tqdm(desc="index", unit="file", disable=None, file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        yield progress


@contextmanager
def byte_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A (bytes done, bytes in all) callback drawing a bar on stderr from its first call: work that turns out
    to be unnecessary (a model already made) draws nothing."""
    from tqdm import tqdm

    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(desc=label, unit="B", unit_scale=True, disable=None, file=sys.stderr)
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()
