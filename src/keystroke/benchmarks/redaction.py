"""`keystroke bench redaction`: how much redaction finds, how often it is wrong, and what it costs.

- Detection: every fake secret of the corpus (`secrets_corpus`), planted in its line of code; a secret counts
  as found when the redacted line no longer holds it.
- False positives: redactions in Python's standard library, which holds no live credential (a few test
  fixtures hold fake ones, which count here as false positives all the same).
- Cost, on a 2,000-line file: the first scan of the file (no cache), and the per-keystroke cost as the
  editor and gateway pay it (the request's prefix and suffix redacted after one character was typed, the
  chunk cache warm); beside them, detect-secrets' own line-by-line scan of the same file, once.
"""

from __future__ import annotations

import sysconfig
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from keystroke.benchmarks.secrets_corpus import corpus
from keystroke.config import PrivacySettings
from keystroke.domain.privacy.detectors import SecretScanner
from keystroke.domain.privacy.redaction import Vault, redact
from keystroke.domain.statistics import percentiles
from keystroke.services.privacy import Redactor
from keystroke.services.types import CompletionRequest

Tick = Callable[[], None]


@dataclass
class RedactionReport:
    detection: dict[str, tuple[int, int]]  # format -> (found, planted)
    stdlib_files: int
    stdlib_lines: int
    false_positives: dict[str, int]  # detector kind -> redactions in the standard library
    examples: list[str]  # file:line of a few, to look at
    file_lines: int
    cold_ms: dict[str, float | None] = field(default_factory=dict)
    keystroke_ms: dict[str, float | None] = field(default_factory=dict)
    library_ms: float | None = None

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def detection_rates(per_format: int = 4) -> dict[str, tuple[int, int]]:
    scanner = SecretScanner()
    found: Counter[str] = Counter()
    planted: Counter[str] = Counter()
    for secret in corpus(per_format):
        planted[secret.kind] += 1
        found[secret.kind] += secret.secret not in redact(secret.code, scanner, Vault())
    return {kind: (found[kind], planted[kind]) for kind in planted}


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if not {"site-packages", "dist-packages"} & set(p.parts))


def false_positives(files: list[Path], tick: Tick) -> tuple[int, dict[str, int], list[str]]:
    scanner = SecretScanner()
    kinds: Counter[str] = Counter()
    examples: list[str] = []
    lines = 0
    for path in files:
        tick()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lines += text.count("\n")
        for finding in scanner.scan(text):
            kinds[finding.kind] += 1
            if len(examples) < 12:
                examples.append(f"{path.name}:{text.count(chr(10), 0, finding.start) + 1} ({finding.kind})")
    return lines, dict(kinds.most_common()), examples


def costs(text: str, runs: int, tick: Tick) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """(cold scan of the whole file, per-keystroke redaction of prefix + suffix) percentiles, in ms."""
    cold: list[float] = []
    scanner = SecretScanner()
    for _ in range(runs):
        started = time.perf_counter()
        scanner.scan(text)
        cold.append((time.perf_counter() - started) * 1000)
        tick()
    redactor = Redactor(PrivacySettings())
    warm: list[float] = []
    cursor = len(text) // 3
    redactor.request(CompletionRequest(text[:cursor], text[cursor:]), "bench")
    for _ in range(runs):
        text = text[:cursor] + "x" + text[cursor:]  # one keystroke, then ask
        cursor += 1
        started = time.perf_counter()
        redactor.request(CompletionRequest(text[:cursor], text[cursor:]), "bench")
        warm.append((time.perf_counter() - started) * 1000)
        tick()
    return percentiles(cold), percentiles(warm)


def library_scan_ms(text: str) -> float:
    """detect-secrets scanning the same file line by line with its default plugins and filters."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    with default_settings():
        started = time.perf_counter()
        for line in text.splitlines():
            for _ in scan_line(line):
                pass
        return (time.perf_counter() - started) * 1000


def two_thousand_lines(file: Path | None) -> str:
    """The first 2,000 lines of `file`, or of the standard library's argparse.py (about 2,600 lines)."""
    source = file or Path(sysconfig.get_paths()["stdlib"]) / "argparse.py"
    return "\n".join(source.read_text(encoding="utf-8").splitlines()[:2000]) + "\n"


def format_report(report: RedactionReport) -> str:
    rows = ["Detection (fake secrets planted in a line of code)", f"{'format':<22} {'found':>6} {'rate':>7}"]
    total_found = total = 0
    for kind, (found, planted) in report.detection.items():
        rows.append(f"{kind:<22} {found:>3}/{planted:<2} {found / planted:>7.0%}")
        total_found, total = total_found + found, total + planted
    rows.append(f"{'all':<22} {total_found:>3}/{total:<2} {total_found / total:>7.0%}")
    fp_total = sum(report.false_positives.values())
    rows += [
        "",
        f"False positives on the standard library: {fp_total} redactions in {report.stdlib_files} files, "
        f"{report.stdlib_lines:,} lines ({fp_total / max(1, report.stdlib_lines) * 1000:.3f} per 1,000 lines)",
    ]
    rows += [f"  {kind:<20} {count:>5}" for kind, count in report.false_positives.items()]
    rows += [f"  e.g. {example}" for example in report.examples[:6]]
    rows += ["", f"Cost on a {report.file_lines:,}-line file (ms)", f"{'':<34} {'p50':>7} {'p95':>7} {'p99':>7}"]
    for label, values in (
        ("first scan (no cache)", report.cold_ms),
        ("per keystroke (prefix+suffix)", report.keystroke_ms),
    ):
        rows.append(f"{label:<34} " + " ".join(f"{values.get(q) or 0.0:>7.2f}" for q in ("p50", "p95", "p99")))
    if report.library_ms is not None:
        rows.append(f"{'detect-secrets line by line (once)':<34} {report.library_ms:>7.0f}")
    return "\n".join(rows)
