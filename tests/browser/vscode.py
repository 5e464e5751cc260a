"""A real VS Code for tests and the latency benchmark: code-server (VS Code 1.100 in the browser) with the built
extension installed, in a folder of its own, and the page helpers that read what VS Code shows (status bar,
ghost text, notifications) from headless Chromium.

Needs the built extension (`editors/vscode/build.sh`) and code-server (`../shared/tools/install-code-server.sh
DIR`); `missing()` says which is absent, so a test can skip with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
VSIX = REPO / "editors" / "vscode" / "keystroke.vsix"
CODE_SERVER = Path(
    os.environ.get("KEYSTROKE_CODE_SERVER")
    or Path.home() / ".cache" / "keystroke-tools" / "code-server" / "node_modules" / ".bin" / "code-server"
)
WAIT_S = 120
GHOST = ".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text"
STATUS = "[id='keystroke.keystroke.status'], [id*='keystroke.status']"
EDITOR = ".editor-group-container.active .monaco-editor .view-lines"
NOTIFICATIONS = ".notifications-center .notification-list-item"
BASE_SETTINGS = {
    "workbench.startupEditor": "none",
    "telemetry.telemetryLevel": "off",
    "workbench.tips.enabled": False,
    "files.hotExit": "off",
    "security.workspace.trust.enabled": False,
}


@dataclass
class Vscode:
    url: str
    workspace: Path
    user: Path  # the user-data folder: settings, logs
    pid: int  # code-server's process: the extension host and the language servers it starts are below it


def missing() -> str | None:
    """Why VS Code cannot be run here, or None."""
    if not VSIX.exists():
        return f"the extension is not built: run editors/vscode/build.sh (no {VSIX})"
    if not CODE_SERVER.exists():
        return f"code-server is not installed at {CODE_SERVER}: ../shared/tools/install-code-server.sh DIR"
    return None


@contextlib.contextmanager
def code_server(
    root: Path, files: Mapping[str, str], settings: Mapping[str, Any], env: Mapping[str, str], venv: Path | None
) -> Iterator[Vscode]:
    """code-server serving a workspace of `files` under `root`, with the extension installed and `settings` as the
    user's; `venv` is linked as the workspace's `.venv` (where the extension looks for keystroke first)."""
    workspace, user, extensions = root / "workspace", root / "user", root / "extensions"
    (user / "User").mkdir(parents=True)
    workspace.mkdir()
    if venv is not None:
        (workspace / ".venv").symlink_to(venv)
    for name, text in files.items():
        (workspace / name).write_text(text)
    (user / "User" / "settings.json").write_text(json.dumps({**BASE_SETTINGS, **settings}))
    subprocess.run(
        [str(CODE_SERVER), "--extensions-dir", str(extensions), "--install-extension", str(VSIX)],
        check=True, capture_output=True, timeout=120, env=dict(env),
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [str(CODE_SERVER), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
         "--disable-update-check", "--disable-workspace-trust", "--user-data-dir", str(user),
         "--extensions-dir", str(extensions), str(workspace)],
        env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield Vscode(f"http://127.0.0.1:{port}/?folder={workspace}", workspace, user, server.pid)
    finally:
        server.terminate()
        server.wait(30)


def chromium() -> webdriver.Chrome:
    """Debian's chromium, headless, driven through chromium-driver."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,900")
    return webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"code-server did not listen on {port} within {timeout_s:g} s")


def status_text(browser: webdriver.Chrome) -> str:
    """The keystroke status bar item's text ("" while VS Code re-renders it)."""
    try:
        found = browser.find_elements(By.CSS_SELECTOR, STATUS)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:
        return ""


def ghost_text(browser: webdriver.Chrome) -> str:
    """The ghost text on screen ("" while VS Code re-renders it)."""
    try:
        return "".join(element.text for element in browser.find_elements(By.CSS_SELECTOR, GHOST))
    except StaleElementReferenceException:
        return ""


def notifications(browser: webdriver.Chrome) -> list[str]:
    """Every notification VS Code popped up in this window (toasts hide after a while; the notification
    center keeps them all), by their text."""
    run_command(browser, "Notifications: Show Notifications")
    time.sleep(1.0)
    try:
        found = [str(element.text) for element in browser.find_elements(By.CSS_SELECTOR, NOTIFICATIONS)]
    except StaleElementReferenceException:
        found = []
    keys(browser, Keys.ESCAPE)
    return found


def keys(browser: webdriver.Chrome, *typed: str, pace_s: float = 0.12) -> None:
    for key in typed:
        ActionChains(browser).send_keys(key).perform()
        time.sleep(pace_s)


def chord(browser: webdriver.Chrome, modifier: str, key: str) -> None:
    ActionChains(browser).key_down(modifier).send_keys(key).key_up(modifier).perform()


def open_file(browser: webdriver.Chrome, vscode: Vscode, name: str, load: bool = True) -> None:
    """Open `name` from the explorer and put the cursor at its end (`load`: load the workbench first)."""
    if load:
        browser.get(vscode.url)
    # a click while the workbench is still laying out can be lost: click until the file's tab is active; a tab
    # restored from the last session is active before its editor is drawn, so wait for the editor too
    WebDriverWait(browser, WAIT_S, poll_frequency=1.0).until(
        lambda b: (_active_tab(b) == name and b.find_elements(By.CSS_SELECTOR, EDITOR)) or _click_row(b, name)
    )
    browser.find_element(By.CSS_SELECTOR, EDITOR).click()
    chord(browser, Keys.CONTROL, Keys.END)


def _active_tab(browser: webdriver.Chrome) -> str:
    try:
        return "".join(tab.text.strip() for tab in browser.find_elements(By.CSS_SELECTOR, ".tab.active"))
    except StaleElementReferenceException:
        return ""


def _click_row(browser: webdriver.Chrome, name: str) -> bool:
    """Click the explorer's row for `name` if it is shown; False either way (the caller waits for the tab)."""
    try:
        rows = browser.find_elements(By.CSS_SELECTOR, ".monaco-list-row")
        row = next((r for r in rows if r.text.strip() == name), None)
        if row is not None:
            row.click()
    except (StaleElementReferenceException, ElementNotInteractableException, ElementClickInterceptedException):
        pass
    return False


def wait_for_status(browser: webdriver.Chrome, *wanted: str, timeout_s: float = WAIT_S) -> str:
    """Wait until the status bar item's text contains one of `wanted`; returns it."""
    WebDriverWait(browser, timeout_s).until(lambda b: any(w in status_text(b) for w in wanted))
    return status_text(browser)


def wait_until_running(browser: webdriver.Chrome) -> None:
    """The language server answered initialize: the status bar says "keystroke" with no state after it."""
    WebDriverWait(browser, WAIT_S).until(
        lambda b: status_text(b).strip().startswith("keystroke") and ":" not in status_text(b)
    )


def run_command(browser: webdriver.Chrome, title: str, *answers: str) -> None:
    """Run a command from the palette (F1) by its title, then type `answers` into the input boxes it opens."""
    keys(browser, Keys.F1)
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".quick-input-widget input"))
    keys(browser, title, pace_s=0.5)
    keys(browser, Keys.ENTER, pace_s=0.5)
    for answer in answers:
        keys(browser, answer, Keys.ENTER, pace_s=0.3)


def language_servers(vscode: Vscode) -> list[int]:
    """The `keystroke lsp` processes this VS Code started (found in /proc, below code-server's process)."""
    parents: dict[int, int] = {}
    servers: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"lsp" in argv and any(Path(arg.decode(errors="replace")).name == "keystroke" for arg in argv):
                servers.append(int(entry.name))

    def below(pid: int) -> bool:
        seen: set[int] = set()
        while pid in parents and pid not in seen:
            seen.add(pid)
            pid = parents[pid]
            if pid == vscode.pid:
                return True
        return False

    return [pid for pid in servers if below(pid)]


def output_log(vscode: Vscode) -> str:
    """What the extension wrote to its output channel ("keystroke"), as VS Code logged it to disk."""
    return "".join(path.read_text() for path in sorted(vscode.user.glob("logs/**/keystroke.keystroke/keystroke.log")))


def server_stats(browser: webdriver.Chrome, vscode: Vscode) -> dict[str, Any]:
    """The server's `keystroke/stats`, through the extension's "Show server stats" command and its log."""
    before = output_log(vscode).count('"keystrokes"')
    run_command(browser, "keystroke: Show the Server's Stats")
    WebDriverWait(browser, 30).until(lambda _: output_log(vscode).count('"keystrokes"') > before)
    log = output_log(vscode)
    start = log.rindex("{\n", 0, log.rindex('"keystrokes"'))
    found, _ = json.JSONDecoder().raw_decode(log[start:])
    assert isinstance(found, dict)
    return found


def panel_text(browser: webdriver.Chrome) -> str:
    """The text shown in VS Code's panel (the output view, when it is open)."""
    try:
        return "\n".join(str(e.text) for e in browser.find_elements(By.CSS_SELECTOR, ".panel .view-lines"))
    except StaleElementReferenceException:
        return ""


def save(browser: webdriver.Chrome) -> None:
    chord(browser, Keys.CONTROL, "s")


# -- keystroke-to-ghost-text, measured in the page ---------------------------------------------------------

# Records, in the page's own clock, every key pressed (a capturing keydown listener, before VS Code sees it)
# and every moment ghost text appears where there was none (a MutationObserver: the DOM change, before paint).
RECORDER = """
const ghost = arguments[0];
window.__keystroke = {keys: [], ghosts: []};
document.addEventListener("keydown", () => window.__keystroke.keys.push(performance.now()), true);
let shown = false;
new MutationObserver(() => {
  const text = Array.from(document.querySelectorAll(ghost), (element) => element.textContent).join("");
  const now = text.trim().length > 0;
  if (now && !shown) window.__keystroke.ghosts.push(performance.now());
  shown = now;
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


def record_ghosts(browser: webdriver.Chrome) -> None:
    browser.execute_script(RECORDER, GHOST)


def recorded(browser: webdriver.Chrome) -> tuple[list[float], list[float]]:
    """(key presses, ghost text appearances), in ms of the page's clock."""
    found = browser.execute_script("return window.__keystroke")
    return [float(t) for t in found["keys"]], [float(t) for t in found["ghosts"]]


def ghost_latencies(keys: list[float], ghosts: list[float]) -> list[float]:
    """For each key press that ghost text followed, the ms from it to the first appearance after it (appearances
    before any key, or again after the same key, are not the user's keystroke's doing and are left out)."""
    latencies, k, timed = [], 0, 0
    for at in sorted(ghosts):
        while k < len(keys) and keys[k] <= at:
            k += 1
        if k > timed:
            latencies.append(at - keys[k - 1])
            timed = k
    return latencies
