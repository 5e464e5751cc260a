"""The VS Code extension in a real VS Code: code-server (VS Code 1.100 in the browser) with the built .vsix
installed, driven in headless Chromium. A function is typed, ghost text appears, Tab accepts it and the saved
file holds exactly what was typed plus the suggestion; typing past a suggestion removes it; the status bar
shows the lane and latency. Screenshots go to test-artifacts/.

Needs the built extension (`editors/vscode/build.sh`) and code-server
(`../shared/tools/install-code-server.sh DIR`; `.ci/run` does both); skips, saying which is missing, without.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import REPO, TEST_MODEL

pytestmark = [pytest.mark.model, pytest.mark.slow]

VSIX = REPO / "editors" / "vscode" / "keystroke.vsix"
CODE_SERVER = Path(
    os.environ.get("KEYSTROKE_CODE_SERVER")
    or Path.home() / ".cache" / "keystroke-tools" / "code-server" / "node_modules" / ".bin" / "code-server"
)
WAIT_S = 120
GHOST = ".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text"
HEADER = "def add(a, b):\n    return "


@dataclass
class Vscode:
    url: str
    workspace: Path


@pytest.fixture(scope="module")
def vscode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vscode]:
    if not VSIX.exists():
        pytest.skip(f"the extension is not built: run editors/vscode/build.sh (no {VSIX})")
    if not CODE_SERVER.exists():
        pytest.skip(f"code-server is not installed at {CODE_SERVER}: ../shared/tools/install-code-server.sh DIR")
    root = tmp_path_factory.mktemp("vscode")
    workspace, user, extensions = root / "workspace", root / "user", root / "extensions"
    (user / "User").mkdir(parents=True)
    workspace.mkdir()
    (workspace / ".venv").symlink_to(Path(sys.prefix))  # the extension finds keystroke in the workspace's venv
    (workspace / "calc.py").write_text(HEADER)
    (user / "User" / "settings.json").write_text(
        f'{{"keystroke.model": "{TEST_MODEL}", "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off",'
        ' "workbench.tips.enabled": false, "files.hotExit": "off"}'
    )
    subprocess.run(
        [str(CODE_SERVER), "--extensions-dir", str(extensions), "--install-extension", str(VSIX)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = _free_port()
    env = {**os.environ, "KEYSTROKE_ENGINE__N_THREADS": "2", "KEYSTROKE_EDITOR__JEDI_BUDGET_MS": "10000"}
    server = subprocess.Popen(
        [str(CODE_SERVER), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
         "--disable-update-check", "--disable-workspace-trust", "--user-data-dir", str(user),
         "--extensions-dir", str(extensions), str(workspace)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        yield Vscode(f"http://127.0.0.1:{port}/?folder={workspace}", workspace)
    finally:
        server.terminate()
        server.wait(30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"code-server did not listen on {port} within {timeout_s:g} s")


def status_text(browser: webdriver.Chrome) -> str:
    """The status bar item's text ("" while VS Code re-renders it)."""
    try:
        found = browser.find_elements(By.CSS_SELECTOR, "[id='keystroke.keystroke.status'], [id*='keystroke.status']")
        return found[0].text if found else ""
    except StaleElementReferenceException:
        return ""


def ghost_text(browser: webdriver.Chrome) -> str:
    """The ghost text on screen ("" while VS Code re-renders it)."""
    try:
        return "".join(element.text for element in browser.find_elements(By.CSS_SELECTOR, GHOST))
    except StaleElementReferenceException:
        return ""


def keys(browser: webdriver.Chrome, *typed: str, pace_s: float = 0.12) -> None:
    for key in typed:
        ActionChains(browser).send_keys(key).perform()
        time.sleep(pace_s)


def open_calc(browser: webdriver.Chrome, vscode: Vscode) -> None:
    browser.get(vscode.url)
    WebDriverWait(browser, WAIT_S).until(
        lambda b: any(r.text.strip() == "calc.py" for r in b.find_elements(By.CSS_SELECTOR, ".monaco-list-row"))
    )
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, ".monaco-list-row") if r.text.strip() == "calc.py")
    row.click()
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".monaco-editor .view-lines"))
    browser.find_element(By.CSS_SELECTOR, ".monaco-editor .view-lines").click()
    ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.END).key_up(Keys.CONTROL).perform()
    # ready: the language server answered initialize (until then VS Code asks nobody for suggestions)
    WebDriverWait(browser, WAIT_S).until(
        lambda b: status_text(b).strip().startswith("keystroke") and ":" not in status_text(b)
    )


def test_ghost_text_is_accepted_with_tab_and_saved(browser: webdriver.Chrome, vscode: Vscode, artifacts: Path) -> None:
    open_calc(browser, vscode)
    started = time.monotonic()
    keys(browser, "a", " ")
    browser.save_screenshot(str(artifacts / "vscode-typed.png"))
    WebDriverWait(browser, WAIT_S).until(lambda b: ghost_text(b).strip())
    waited_s = time.monotonic() - started
    suggestion = ghost_text(browser)
    browser.save_screenshot(str(artifacts / "vscode-ghost-text.png"))
    WebDriverWait(browser, WAIT_S).until(lambda b: " ms" in status_text(b))  # the last suggestion's lane and time
    assert any(lane in status_text(browser) for lane in ("inline", "inflight", "cache", "local"))
    suggestion = ghost_text(browser)  # as it stands now: VS Code may have asked again meanwhile
    keys(browser, Keys.TAB)
    browser.save_screenshot(str(artifacts / "vscode-after-tab.png"))
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
    calc = vscode.workspace / "calc.py"
    expected = HEADER + "a " + suggestion  # exactly what was typed, plus what was accepted
    with contextlib.suppress(TimeoutException):
        WebDriverWait(browser, 30).until(lambda _: calc.read_text() == expected)
    assert calc.read_text() == expected
    browser.save_screenshot(str(artifacts / "vscode-accepted.png"))
    print(f"ghost text {waited_s:.1f} s after the first key; status bar: {status_text(browser)!r}")


def test_typing_past_a_suggestion_removes_it(browser: webdriver.Chrome, vscode: Vscode) -> None:
    open_calc(browser, vscode)
    keys(browser, Keys.ENTER, Keys.ENTER, "def mul(x, y):", Keys.ENTER, "return x ")
    WebDriverWait(browser, WAIT_S).until(lambda b: ghost_text(b).strip())
    suggestion = ghost_text(browser).strip()
    other = "#" if not suggestion.startswith("#") else "@"
    keys(browser, other)
    WebDriverWait(browser, 10).until(lambda b: not ghost_text(b).strip().startswith(suggestion))
