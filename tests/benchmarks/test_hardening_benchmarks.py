"""`keystroke bench soak` and `keystroke bench abuse`, run briefly for real, and the soak's slope arithmetic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keystroke.benchmarks.soak import Sample, rss_slope


def sample(at_s: float, rss_mb: float) -> Sample:
    return Sample(at_s, rss_mb, 20, 5, 0, 0, 0, None)


def test_the_slope_is_megabytes_per_minute_by_least_squares() -> None:
    assert rss_slope([sample(0, 100), sample(60, 101), sample(120, 102)]) == pytest.approx(1.0)
    assert rss_slope([sample(0, 100), sample(60, 99), sample(120, 101), sample(180, 100)]) == pytest.approx(0.2)
    assert rss_slope([sample(0, 100)]) is None


def _bench(tmp_path: Path, *args: str, passes: bool = True) -> dict[str, object]:
    out = tmp_path / "result.json"
    command = [sys.executable, "-m", "keystroke", "bench", *args, "--threads", "2", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "verdict: " in done.stdout, done.stdout
    if passes:
        assert "verdict: PASS" in done.stdout, done.stdout
    return dict(json.loads(out.read_text()))


@pytest.mark.model
@pytest.mark.slow
def test_a_short_soak_samples_the_gateway_and_counts_no_5xx(tmp_path: Path) -> None:
    # Fifteen seconds from a cold start is all warm-up (caches and the KV slot store fill), so the memory half of
    # the verdict is not judged here; the 5xx count and the sampling are.
    result = _bench(
        tmp_path, "soak", "--minutes", "0.25", "--rate", "4", "--sample", "5", "--warmup", "0", passes=False
    )
    verdict = result["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["server_errors"] == 0
    assert verdict["requests"] > 20
    samples = result["samples"]
    assert isinstance(samples, list)
    assert len(samples) >= 3
    assert all(s["descriptors"] > 0 and s["rss_mb"] > 0 for s in samples)


@pytest.mark.model
@pytest.mark.slow
def test_a_short_abuse_run_sees_every_connection_closed_and_others_served(tmp_path: Path) -> None:
    result = _bench(
        tmp_path, "abuse", "--connections", "8", "--hangups", "2", "--drip", "0.2", "--header-timeout", "1",
        "--body-timeout", "2", "--give-up", "30",
    )  # fmt: skip
    probes = {p["kind"]: p for p in result["probes"]}  # type: ignore[attr-defined]
    assert {kind: p["closed_by_server"] for kind, p in probes.items()} == {
        "idle": 2, "slow-header": 2, "slow-body": 2, "big-header": 2,
    }  # fmt: skip
    assert "HTTP/1.1 408 Request Timeout" in probes["slow-body"]["answers"]
    assert any(answer.startswith("HTTP/1.1 431") for answer in probes["big-header"]["answers"])
    assert result["hangups"] == 2
