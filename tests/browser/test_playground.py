"""The playground in headless Chromium: type a function header, a suggestion appears, Tab accepts it, typing
past one removes it; then, after a typing replay through the language server, /metrics and the dashboard."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from keystroke.benchmarks.replay import run_replay
from keystroke.benchmarks.typist import find_tasks
from tests.conftest import Gateway

pytestmark = [pytest.mark.model, pytest.mark.slow]

WAIT_S = 90  # the model answers in well under a second when warm; CI machines are shared and slow


def editor_text(browser: webdriver.Chrome) -> str:
    return str(browser.execute_script("return window.keystroke.view.state.doc.toString()"))


def ghost(browser: webdriver.Chrome) -> tuple[str, str] | None:
    """The suggestion on screen: (its id, its text), or None."""
    found = browser.find_elements(By.CSS_SELECTOR, ".ks-ghost")
    return (found[0].get_attribute("data-id") or "", found[0].text) if found else None


def wait_for_ghost(browser: webdriver.Chrome) -> tuple[str, str]:
    WebDriverWait(browser, WAIT_S).until(lambda b: ghost(b) is not None)
    shown = ghost(browser)
    assert shown is not None
    return shown


def open_playground(browser: webdriver.Chrome, gateway: Gateway) -> None:
    browser.get(gateway.url + "/")
    WebDriverWait(browser, 30).until(lambda b: "connected" in b.find_element(By.ID, "ks-status").text)
    browser.find_element(By.CSS_SELECTOR, ".cm-content").click()


def test_type_a_header_see_a_suggestion_accept_it_with_tab(
    browser: webdriver.Chrome, fresh_gateway: Gateway, artifacts: Path
) -> None:
    open_playground(browser, fresh_gateway)
    content = browser.find_element(By.CSS_SELECTOR, ".cm-content")
    content.send_keys("def add(a, b):", Keys.ENTER)
    typed = editor_text(browser)
    assert typed.startswith("def add(a, b):\n")
    _, suggestion = wait_for_ghost(browser)
    assert suggestion.strip()
    assert browser.find_element(By.ID, "ks-lane").text in {"inline", "multiline", "cache", "inflight", "local"}
    assert browser.find_element(By.ID, "ks-first-action").text.endswith("ms")
    browser.save_screenshot(str(artifacts / "playground-suggestion.png"))
    content.send_keys(Keys.TAB)
    assert editor_text(browser) == typed + suggestion
    assert "1 accepted" in browser.find_element(By.ID, "ks-counts").text
    browser.save_screenshot(str(artifacts / "playground-accepted.png"))


def test_typing_past_a_suggestion_removes_it(browser: webdriver.Chrome, fresh_gateway: Gateway) -> None:
    open_playground(browser, fresh_gateway)
    content = browser.find_element(By.CSS_SELECTOR, ".cm-content")
    content.send_keys("def mul(a, b):", Keys.ENTER)
    shown_id, suggestion = wait_for_ghost(browser)
    other = "#" if not suggestion.lstrip().startswith("#") else "x"
    content.send_keys(other)
    assert browser.find_elements(By.CSS_SELECTOR, f'.ks-ghost[data-id="{shown_id}"]') == []
    assert editor_text(browser).endswith(other)


def type_slowly(browser: webdriver.Chrome, keys: str, pace_s: float = 0.09) -> None:
    """Type as a person does: one key at a time, about 90 ms apart, so completion lists and suggestions have
    time to appear between keys."""
    content = browser.find_element(By.CSS_SELECTOR, ".cm-content")
    for key in keys:
        content.send_keys(key)
        time.sleep(pace_s)


def accepted(browser: webdriver.Chrome) -> list[str]:
    return list(browser.execute_script("return window.keystroke.accepted"))


def test_typing_real_code_at_human_pace_keeps_exactly_what_was_typed_and_accepted(
    browser: webdriver.Chrome, fresh_gateway: Gateway, artifacts: Path
) -> None:
    open_playground(browser, fresh_gateway)
    # the playground's bug: "os" typed exactly, a completion list offering OSError, Enter took it
    type_slowly(browser, "import os" + Keys.ENTER + Keys.ENTER)
    assert editor_text(browser) == "import os\n\n"
    type_slowly(browser, "def area(r):" + Keys.ENTER)
    expected = "import os\n\ndef area(r):\n    "  # the body indented by four spaces
    assert editor_text(browser) == expected
    _, suggestion = wait_for_ghost(browser)
    browser.find_element(By.CSS_SELECTOR, ".cm-content").send_keys(Keys.TAB)
    assert accepted(browser) == [suggestion]
    expected += suggestion
    assert editor_text(browser) == expected
    type_slowly(browser, Keys.ENTER + "pri" + Keys.BACKSPACE + Keys.BACKSPACE + "rint(o" + Keys.BACKSPACE + "os)")
    text = editor_text(browser)
    assert text.startswith(expected + "\n")
    assert text.endswith("print(os)")  # typed letter by letter, with two corrections; no list item taken
    assert accepted(browser) == [suggestion]  # nothing but the Tab put text in
    browser.save_screenshot(str(artifacts / "playground-typed.png"))


def test_the_language_picker_starts_a_session_in_that_language(
    browser: webdriver.Chrome, fresh_gateway: Gateway
) -> None:
    open_playground(browser, fresh_gateway)
    Select(browser.find_element(By.ID, "ks-language")).select_by_value("javascript")
    WebDriverWait(browser, 30).until(lambda b: "connected" in b.find_element(By.ID, "ks-status").text)
    browser.find_element(By.CSS_SELECTOR, ".cm-content").click()
    type_slowly(browser, "const total = 0;" + Keys.ENTER + "cons")
    type_slowly(browser, Keys.ENTER)
    assert editor_text(browser) == "const total = 0;\ncons\n"  # Enter: a newline, not "const" or "console"
    type_slowly(browser, "function sum(a, b) {" + Keys.ENTER)
    _, suggestion = wait_for_ghost(browser)  # the model answers in the new session
    assert suggestion.strip()


def test_after_a_replay_metrics_parse_with_filled_histograms_and_the_dashboard_plots(
    browser: webdriver.Chrome, fresh_gateway: Gateway, artifacts: Path
) -> None:
    repo = Path(__file__).resolve().parents[2] / "src" / "keystroke" / "domain" / "telemetry"
    tasks = find_tasks(repo, 3, seed=7)
    report = asyncio.run(run_replay(fresh_gateway.url, repo, tasks, keystrokes=80, seed=7))
    assert report.requests > 0
    with httpx.Client(base_url=fresh_gateway.url, timeout=60) as client:
        text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    stage_counts = {
        dict(labels)["stage"]: v for (name, labels), v in samples.items() if name == "keystroke_stage_seconds_count"
    }
    assert stage_counts["queue"] > 0
    assert stage_counts["first_action"] > 0
    editor_counts = [v for (name, _), v in samples.items() if name == "keystroke_editor_first_action_seconds_count"]
    assert sum(editor_counts) > 0  # the language server's telemetry reached the gateway
    (artifacts / "metrics-after-replay.txt").write_text(text)

    browser.get(fresh_gateway.url + "/dashboard")
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#plot-first_action svg"))
    for panel in ("first_action", "stages", "caches"):
        assert browser.find_elements(By.CSS_SELECTOR, f"#plot-{panel} svg"), panel
    assert "p50/p95/p99" in browser.find_element(By.ID, "rates").text
    browser.save_screenshot(str(artifacts / "dashboard-after-replay.png"))
