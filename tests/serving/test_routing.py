"""Routing for a fleet: consistent hashing with bounded loads, health, and the round-robin baseline."""

from __future__ import annotations

from collections import Counter

import pytest

from keystroke.domain.engines.routing import AffinityRing, RoundRobin

REPLICAS = ["http://a:8000", "http://b:8000", "http://c:8000"]
KEYS = [f"tenant\x1fsrc/module_{i}.py" for i in range(300)]
IDLE = [0, 0, 0]
ALL_UP = [True, True, True]


def test_a_key_always_goes_home_and_keys_spread_over_replicas() -> None:
    ring = AffinityRing(REPLICAS)
    homes = [ring.route(key, IDLE, ALL_UP)[0] for key in KEYS]
    assert homes == [ring.route(key, IDLE, ALL_UP)[0] for key in KEYS]
    spread = Counter(homes)
    assert min(spread.values()) > len(KEYS) / 3 * 0.6  # no replica is starved


def test_removing_a_replica_moves_only_its_keys() -> None:
    before = AffinityRing(REPLICAS)
    after = AffinityRing(REPLICAS[:2])
    moved = [key for key in KEYS if before.home(key) != 2 and before.home(key) != after.home(key)]
    assert moved == []


def test_a_busy_home_spills_to_the_next_replica() -> None:
    ring = AffinityRing(REPLICAS, load_factor=1.25)
    key = KEYS[0]
    home = ring.home(key)
    loads = [0, 0, 0]
    loads[home] = 5  # bound: ceil(1.25 * 6 / 3) = 3
    order = ring.route(key, loads, ALL_UP)
    assert order[0] != home
    assert sorted(order) == [0, 1, 2]


def test_an_unhealthy_replica_is_tried_last() -> None:
    ring = AffinityRing(REPLICAS)
    key = KEYS[1]
    home = ring.home(key)
    healthy = [index != home for index in range(3)]
    order = ring.route(key, IDLE, healthy)
    assert order[0] != home
    assert order[-1] == home


def test_with_every_replica_down_each_is_still_tried() -> None:
    assert sorted(AffinityRing(REPLICAS).route(KEYS[2], IDLE, [False] * 3)) == [0, 1, 2]


def test_round_robin_rotates_regardless_of_the_key() -> None:
    policy = RoundRobin(REPLICAS)
    assert [policy.route(KEYS[0], IDLE, ALL_UP)[0] for _ in range(4)] == [0, 1, 2, 0]
    assert policy.route(KEYS[0], IDLE, [False, True, True])[-1] == 0


@pytest.mark.parametrize("bad", [{"replicas": []}, {"replicas": REPLICAS, "load_factor": 0.5}])
def test_bad_fleets_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"replica|load_factor"):
        AffinityRing(**bad)  # type: ignore[arg-type]
