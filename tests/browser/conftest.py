"""Browser tests: Debian's chromium, headless, driven by Selenium through chromium-driver, against a real gateway.

Screenshots go to `test-artifacts/` at the repository root (or $KEYSTROKE_TEST_ARTIFACTS).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from tests.browser.vscode import CHROMIUM, DRIVER, chromium
from tests.conftest import REPO, Gateway, start_gateway, stop_gateway


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("KEYSTROKE_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not CHROMIUM.exists() or not DRIVER.exists():
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def fresh_gateway() -> Iterator[Gateway]:
    """A gateway of its own (own key file, audit log and telemetry), so its dashboard shows only this module."""
    data = tempfile.mkdtemp(prefix="keystroke-browser-")
    started = start_gateway(env={"KEYSTROKE_DATA_DIR": data})
    yield started
    stop_gateway(started)
    shutil.rmtree(data, ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed and "browser" in getattr(item, "funcargs", {}):
        folder = Path(os.environ.get("KEYSTROKE_TEST_ARTIFACTS") or REPO / "test-artifacts")
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):  # the browser may be what failed
            item.funcargs["browser"].save_screenshot(str(folder / f"failed-{item.name}.png"))
    return report
