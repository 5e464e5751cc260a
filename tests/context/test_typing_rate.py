"""Adaptive depth: the typing model decides from inter-key intervals on an injected clock."""

from __future__ import annotations

from keystroke.domain.context.typing_rate import Depth, Thresholds, TypingModel
from keystroke.testing import ManualClock


def model() -> tuple[TypingModel, ManualClock]:
    clock = ManualClock(100.0)
    return TypingModel(Thresholds(), clock), clock


def test_first_keystroke_collects_everything() -> None:
    typing, _ = model()
    assert typing.observe(1) == Depth.FULL


def test_depth_follows_the_pause_before_the_keystroke() -> None:
    typing, clock = model()
    typing.observe(1)
    for pause, depth in [
        (80, Depth.LIGHT),
        (149, Depth.LIGHT),
        (200, Depth.LIGHT),
        (250, Depth.REFRESH),
        (400, Depth.REFRESH),
        (500, Depth.REFRESH),
        (501, Depth.FULL),
        (3000, Depth.FULL),
    ]:
        clock.tick(pause / 1000)
        assert typing.observe(1) == depth, pause
        assert typing.last_interval_ms is not None
        assert abs(typing.last_interval_ms - pause) < 1e-6


def test_a_paste_holds_collection_until_the_text_settles() -> None:
    typing, clock = model()
    typing.observe(1)
    clock.tick(1000 / 1000)
    assert typing.observe(1500) == Depth.LIGHT  # the paste itself, even after a long pause
    assert typing.pasting
    clock.tick(100 / 1000)
    assert typing.observe(1) == Depth.LIGHT  # still settling
    clock.tick(600 / 1000)
    assert typing.observe(1) == Depth.FULL  # a small change after a pause: settled
    assert not typing.pasting


def test_deleting_a_large_block_counts_as_a_paste() -> None:
    typing, clock = model()
    typing.observe(1)
    clock.tick(900 / 1000)
    assert typing.observe(-800) == Depth.LIGHT
