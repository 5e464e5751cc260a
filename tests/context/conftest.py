from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keystroke.domain.context.index import RepositoryIndex
from tests.fixtures.workspace import write_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return write_workspace(tmp_path / "ws")


@pytest.fixture
def index(workspace: Path, tmp_path: Path) -> Iterator[RepositoryIndex]:
    built = RepositoryIndex(workspace, cache_dir=tmp_path / "cache")
    built.build()
    yield built
    built.close()
