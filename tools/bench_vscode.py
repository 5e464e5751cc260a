"""Latency as the VS Code extension's user sees it: keystroke to ghost text, in a real VS Code in the browser.

    python tools/bench_vscode.py [--model smollm2-135m] [--suggestions 50] [--seed 0] [--json out.json]

code-server (VS Code 1.100) with the built extension (`editors/vscode/build.sh`) opens an empty Python file, and
headless Chromium types a real file into it (the standard library's textwrap.py, from its first function) at a
human pace (the replay typist's: about 160 ms between keys, now and then a pause to think at a line's end),
until ghost text has appeared `--suggestions` times. Suggestions are never accepted: the file is typed as is. The page
records each key press (a capturing keydown listener, before VS Code sees the key) and each moment ghost text
appears where there was none (a MutationObserver: the DOM change, before paint); each appearance is timed from
the key it followed, once per key (`tests/browser/vscode.py`). Beside it, from the same session, the language
server's own figures (`keystroke/stats`): request to answer per lane as the server timed it (the debounce wait
left out), and the engine's first action for the requests it decoded, the floor under the model lanes.

Auto-indent, auto-closing brackets and Enter-accepts-a-list-item are off, so what is typed is the file; the
completion list (quick suggestions) stays on, as a user has it, and hides ghost text while it is open.
Needs code-server and the built extension (`.ci/run` makes both), chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import textwrap as stdlib_textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.browser.vscode

from selenium.webdriver.common.keys import Keys
from tests.browser.vscode import (
    chromium,
    code_server,
    ghost_latencies,
    ghost_text,
    keys,
    missing,
    open_file,
    record_ghosts,
    recorded,
    server_stats,
    wait_until_running,
)

from keystroke.benchmarks.typist import human_delay_s
from keystroke.domain.statistics import percentile

TYPING = {
    "editor.autoIndent": "none",
    "editor.autoClosingBrackets": "never",
    "editor.autoClosingQuotes": "never",
    "editor.autoSurround": "never",
    "editor.acceptSuggestionOnEnter": "off",
    "editor.formatOnType": False,
}


def source_lines(limit: int = 2000) -> list[str]:
    """The lines to type: textwrap.py from its first function or class, blank lines and comments left out."""
    lines = Path(stdlib_textwrap.__file__).read_text().splitlines()
    first = next(n for n, line in enumerate(lines) if line.startswith(("def ", "class ")))
    return [line for line in lines[first:] if line.strip() and not line.strip().startswith("#")][:limit]


def run(model: str, wanted: int, seed: int, threads: int) -> dict[str, Any]:
    env = {**os.environ, "KEYSTROKE_ENGINE__N_THREADS": str(threads)}
    settings = {"keystroke.model": model, **TYPING}
    browser = chromium()
    root = Path(tempfile.mkdtemp(prefix="keystroke-bench-vscode-"))
    typed, rng = 0, random.Random(seed)
    started = time.monotonic()
    try:
        with code_server(root, {"typed.py": ""}, settings, env, Path(sys.prefix)) as vscode:
            open_file(browser, vscode, "typed.py")
            wait_until_running(browser)
            record_ghosts(browser)
            for line in source_lines():
                for char in line:
                    keys(browser, char, pace_s=human_delay_s(rng, line_end=False))
                    typed += 1
                keys(browser, Keys.ESCAPE, pace_s=0)  # no list item, no ghost text taken by the Enter
                keys(browser, Keys.ENTER, pace_s=human_delay_s(rng, line_end=True))
                typed += 1
                pressed, ghosts = recorded(browser)
                shown = len(ghost_latencies(pressed, ghosts))
                print(f"\r{typed} keys typed, ghost text {shown}/{wanted}", end="", file=sys.stderr, flush=True)
                if shown >= wanted:
                    break
            print(file=sys.stderr)
            ghost_text(browser)
            pressed, ghosts = recorded(browser)
            stats = server_stats(browser, vscode)
    finally:
        browser.quit()
    latencies = ghost_latencies(pressed, ghosts)
    return {
        "model": model,
        "seed": seed,
        "keys": len(pressed),
        "seconds": round(time.monotonic() - started, 1),
        "ghost_ms": latencies,
        "server": {
            "requests": stats["requests"],
            "invoked": stats["invoked"],
            "shown": stats["shown"],
            "lanes": stats["lanes"],
            "latency_ms": stats["latency_ms"],
            "serving_ms": stats["serving_ms"],
            "cancelled": stats["cancelled"],
            "stale": stats["stale"],
        },
    }


def table(result: dict[str, Any]) -> str:
    def row(name: str, n: object, p50: float | None, p95: float | None) -> str:
        shown = (f"{p50:8.1f}" if p50 is not None else "       -") + (f"{p95:9.1f}" if p95 is not None else "        -")
        return f"{name:<52}{n!s:>6}{shown}"

    ghost = result["ghost_ms"]
    server = result["server"]
    lanes = server["lanes"]
    lines = [
        f"VS Code (code-server 4.100.3), model {result['model']}, human pace (seed {result['seed']}), "
        f"{result['keys']} keys in {result['seconds']:g} s",
        f"{'':<52}{'n':>6}{'p50 ms':>8}{'p95 ms':>9}",
        row("keystroke -> ghost text in the page", len(ghost), percentile(ghost, 50), percentile(ghost, 95)),
    ]
    for lane, figures in server["latency_ms"].items():
        name = f"server: request -> answer, lane {lane}"
        lines.append(row(name, lanes.get(lane, "?"), figures["p50"], figures["p95"]))
    floor = server["serving_ms"]
    lines.append(row("engine: first action (the floor)", "", floor["p50"], floor["p95"]))
    lines.append(
        f"server: {server['requests']} requests ({server['invoked']} asked explicitly), {server['shown']} shown, "
        f"{server['cancelled']} cancelled, {server['stale']} stale dropped"
    )
    if ghost:
        lines.append(f"mean keystroke -> ghost text {statistics.fmean(ghost):.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="model the extension's server runs (keystroke.model)")
    parser.add_argument("--suggestions", type=int, default=50, help="ghost text appearances to time (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the typing rhythm (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="engine threads (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    reason = missing()
    if reason:
        parser.exit(2, f"bench_vscode: {reason}\n")
    result = run(args.model, args.suggestions, args.seed, args.threads)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
