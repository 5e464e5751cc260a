"""The progress bar every transport shows while a workspace is indexed (on a terminal only)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
