"""Which engine answers which lane: a model per lane (inline while typing, multi-line, invoked).

A request's lane is "invoked" when the user asked (trigger "invoked"), else its mode ("inline", "multiline").
`Lanes` maps each lane to a `LaneEngine` (a backend and the prompt profile detected for its model); lanes
configured with the same model share one backend. Built by `services.factory` from `Settings.lanes`; the
embedded engines of one process share one CPU scheduler (`domain/engines/scheduler.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from keystroke.domain.engines.base import InferenceBackend
from keystroke.domain.postprocess.shaping import Mode
from keystroke.domain.prompt.profiles import ModelProfile
from keystroke.services.types import Lane

LANES: tuple[Lane, ...] = ("inline", "multiline", "invoked")


@dataclass(frozen=True)
class LaneEngine:
    backend: InferenceBackend
    profile: ModelProfile

    @property
    def model(self) -> str:
        return self.backend.info.name


def lane_of(mode: Mode, trigger: str | None) -> Lane:
    """The lane of a request: what the user asked for explicitly is its own lane, whatever its mode."""
    return "invoked" if trigger == "invoked" else mode


class Lanes:
    """Each lane's engine; one engine for all lanes unless configured otherwise."""

    def __init__(self, engines: dict[Lane, LaneEngine]) -> None:
        missing = [lane for lane in LANES if lane not in engines]
        if missing:
            raise ValueError(f"no engine for lane(s) {', '.join(missing)}")
        self._engines = dict(engines)

    @classmethod
    def single(cls, backend: InferenceBackend, profile: ModelProfile) -> Lanes:
        engine = LaneEngine(backend, profile)
        return cls(dict.fromkeys(LANES, engine))

    def engine(self, lane: Lane) -> LaneEngine:
        return self._engines[lane]

    def models(self) -> dict[str, str]:
        """{lane: model name}, for /v1/models, the dashboard and the stats."""
        return {lane: engine.model for lane, engine in self._engines.items()}

    def backends(self) -> list[InferenceBackend]:
        """The distinct backends, each once (the inline lane's first)."""
        return [engine.backend for engine, _ in self.assignments()]

    def assignments(self) -> list[tuple[LaneEngine, list[Lane]]]:
        """Each distinct engine with the lanes it serves, the inline lane's first."""
        found: dict[int, tuple[LaneEngine, list[Lane]]] = {}
        for lane in LANES:
            engine = self._engines[lane]
            found.setdefault(id(engine.backend), (engine, []))[1].append(lane)
        return list(found.values())
