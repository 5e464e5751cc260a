"""The plots of the dashboard and of `--report`: one drawing per panel, as SVG (the page) or PNG (reports).

Panels, each from plain numbers (`services.dashboard.Panels`), so the gateway's dashboard and the reports of
`keystroke bench --report` and `keystroke eval --report` draw the same pictures:
- first action per lane: the distribution (an empirical CDF on a log axis) with p50, p95 and p99 marked;
- stage breakdown: p50 bars with p95 whiskers per serving stage;
- acceptance and retention over time;
- cache hit ratios (result cache, KV cache).
matplotlib's object API with the Agg canvas (no pyplot, no display); drawing is serialised by a lock, since
matplotlib's text layout is not thread-safe.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keystroke.domain.statistics import percentile
from keystroke.services.dashboard import OverTime, Panels

Format = Literal["svg", "png"]
MARKS = (50, 95, 99)
_LOCK = threading.Lock()
_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def drawings(panels: Panels) -> dict[str, Callable[[Figure], None]]:
    """Each panel that has data, by file name stem."""
    found: dict[str, Callable[[Figure], None]] = {}
    if any(panels.first_action.values()):
        found["first_action"] = lambda f: _first_action(f, panels.first_action)
    if any(panels.stages.values()):
        found["stages"] = lambda f: _stages(f, panels.stages)
    if panels.over_time:
        found["over_time"] = lambda f: _over_time(f, panels.over_time)
    if panels.caches:
        found["caches"] = lambda f: _caches(f, panels.caches)
    return found


def render(draw: Callable[[Figure], None], fmt: Format) -> bytes:
    with _LOCK:
        figure = Figure(figsize=(7.5, 3.6), dpi=100, layout="constrained")
        draw(figure)
        buffer = io.BytesIO()
        FigureCanvasAgg(figure).print_figure(buffer, format=fmt, metadata=_METADATA[fmt])
    return buffer.getvalue()


def render_all(panels: Panels, fmt: Format) -> dict[str, bytes]:
    return {name: render(draw, fmt) for name, draw in drawings(panels).items()}


def marks(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(values, q) for q in MARKS}


# reproducible output: no creation date, no software version in the file
_METADATA: dict[str, dict[str, Any]] = {"svg": {"Date": None, "Creator": None}, "png": {"Software": None}}


def _first_action(figure: Figure, lanes: Mapping[str, Sequence[float]]) -> None:
    axes = figure.add_subplot()
    for color, (lane, values) in zip(_COLORS * 3, sorted(lanes.items()), strict=False):
        if not values:
            continue
        ordered = sorted(max(v, 0.1) for v in values)
        shares = [(i + 1) / len(ordered) for i in range(len(ordered))]
        found = marks(ordered)
        label = f"{lane} (n={len(ordered)}): " + " / ".join(f"{k} {v:,.0f}" for k, v in found.items() if v is not None)
        axes.step(ordered, shares, where="post", color=color, label=label + " ms")
        for q, value in zip(MARKS, found.values(), strict=True):
            if value is not None:
                axes.plot([max(value, 0.1)], [q / 100], marker="o", color=color, markersize=5)
    axes.set_xscale("log")
    axes.set_xlabel("first action, ms (log scale)")
    axes.set_ylabel("share of suggestions")
    axes.set_title("First action per lane (dots: p50, p95, p99)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")


def _stages(figure: Figure, stages: Mapping[str, Sequence[float]]) -> None:
    axes = figure.add_subplot()
    names = [name for name, values in stages.items() if values]
    p50 = [percentile(stages[name], 50) or 0.0 for name in names]
    p95 = [percentile(stages[name], 95) or 0.0 for name in names]
    positions = range(len(names))
    axes.barh(positions, p50, color=_COLORS[0], alpha=0.8, label="p50")
    axes.errorbar(p95, positions, fmt="|", color=_COLORS[1], markersize=14, label="p95")
    for y, (mid, high) in enumerate(zip(p50, p95, strict=True)):
        axes.annotate(f"{mid:,.0f} / {high:,.0f} ms", (max(mid, high), y), xytext=(6, -3),
                      textcoords="offset points", fontsize=7)  # fmt: skip
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.set_xlabel("ms")
    axes.set_title("Serving stages (bar p50, tick p95)")
    axes.margins(x=0.25)
    axes.legend(fontsize=7, loc="lower right")


def _over_time(figure: Figure, points: Sequence[OverTime]) -> None:
    axes = figure.add_subplot()
    times: list[Any] = [datetime.fromtimestamp(p.start, UTC) for p in points]  # matplotlib converts dates
    for color, name, values in (
        (_COLORS[0], "acceptance rate", [p.acceptance_rate for p in points]),
        (_COLORS[2], "characters retained at 30 s", [p.retained_rate for p in points]),
    ):
        kept = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
        if kept:
            axes.plot([t for t, _ in kept], [v for _, v in kept], marker="o", color=color, label=name)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share")
    axes.set_title("Acceptance and retention over time (UTC)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7, loc="lower left")
    figure.autofmt_xdate()


def _caches(figure: Figure, caches: Mapping[str, float | None]) -> None:
    axes = figure.add_subplot()
    names = list(caches)
    values = [caches[name] or 0.0 for name in names]
    axes.bar(names, values, color=_COLORS[: len(names)])
    for x, (name, value) in enumerate(caches.items()):
        axes.annotate("n/a" if value is None else f"{value:.0%}", (x, values[x]), xytext=(0, 3),
                      textcoords="offset points", ha="center", fontsize=8)  # fmt: skip
        del name
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("hit ratio")
    axes.set_title("Cache hit ratios")
