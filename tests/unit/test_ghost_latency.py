"""The browser benchmark's arithmetic: ghost text is timed from the key press it followed, once per key."""

from __future__ import annotations

from tests.browser.vscode import ghost_latencies


def test_each_appearance_is_timed_from_the_key_it_followed_once_per_key() -> None:
    keys = [100.0, 200.0, 300.0, 1000.0]
    ghosts = [50.0, 250.0, 260.0, 900.0, 1400.0]
    # 50: before any key (not the user's doing); 250: after the key at 200, and 260 again after it (VS Code
    # asked again on its own: left out); 900: after the key at 300; 1400: after 1000
    assert ghost_latencies(keys, ghosts) == [50.0, 600.0, 400.0]


def test_no_keys_or_no_ghosts_give_nothing() -> None:
    assert ghost_latencies([], [10.0]) == []
    assert ghost_latencies([10.0], []) == []
