"""Backends by name: `engine.kind` is looked up among the builders registered under the `keystroke.backends`
entry-point group, keystroke's own (`embedded`, `remote`) and any installed package's alike.

A third-party engine ships a function `build(settings: EngineSettings, turns: CpuTurns | None) ->
InferenceBackend` (the contract: `base.py`) and declares it in its packaging::

    [project.entry-points."keystroke.backends"]
    my-engine = "my_package.keystroke_backend:build"

after which `engine.kind = "my-engine"` (or `KEYSTROKE_ENGINE__KIND=my-engine`) selects it. Builders are
imported only when chosen, so an installed backend costs nothing until it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, TypeAlias

from keystroke.config import EngineSettings
from keystroke.domain.engines.base import InferenceBackend
from keystroke.errors import ConfigError

if TYPE_CHECKING:
    from keystroke.domain.engines.scheduler import CpuTurns

GROUP = "keystroke.backends"
Builder: TypeAlias = "Callable[[EngineSettings, CpuTurns | None], InferenceBackend]"


def registered() -> dict[str, EntryPoint]:
    """Every registered backend builder by kind (entry points are read afresh: a package installed since
    start is seen)."""
    return {point.name: point for point in entry_points(group=GROUP)}


def builder(kind: str) -> Builder:
    """The builder registered for `kind`; ConfigError naming the kinds there are when none is."""
    found = registered()
    if kind not in found:
        if not found:
            raise ConfigError(
                f"no inference backend is registered (not even keystroke's own): keystroke's package metadata "
                f"is missing; reinstall it (`pip install -e .` in a checkout) to use engine.kind {kind!r}"
            )
        raise ConfigError(f"unknown engine kind {kind!r}; registered: {', '.join(sorted(found))}")
    loaded = found[kind].load()
    if not callable(loaded):
        raise ConfigError(f"the backend registered as {kind!r} ({found[kind].value}) is not a function")
    build: Builder = loaded
    return build
