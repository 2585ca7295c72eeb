"""Fixtures of the browser suite: a real ``qo up``, Debian's Chromium driven by Playwright.

Each test gets its own server (data dir, port) from the end-to-end harness and a fresh browser
context; a screenshot of every screen a test visits is saved under ``test-artifacts/screenshots``
(and, when ``QO_SCREENSHOTS_DIR`` is set, there too: ``make screenshots`` refreshes the README's).
The browser is launched once per module (Playwright's sync API keeps an event loop running in
the thread while it is open, which the async tests of other suites must not meet);
Playwright downloads no browser of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)
from tests.e2e.conftest import TASKS
from tests.e2e.harness import REPO, Cluster, cluster

CHROMIUM = os.environ.get("QO_CHROMIUM", "/usr/bin/chromium")
# As root in a container: no sandbox; and no background traffic to Google's hosts, which this
# closed network refuses (it slows every start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
BUNDLE = REPO / "src" / "quantum_orchestrator" / "web" / "dist" / "index.html"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver (a Node.js process it ships)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    if not BUNDLE.exists():
        pytest.fail("the dashboard bundle is not built: run `make web-build`")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium from Debian's package."""
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def qo(tmp_path: Path) -> Iterator[Cluster]:
    """A running ``qo up`` with the harness logged in as the first admin."""
    shutil.copy(TASKS, tmp_path / "tasks.py")
    with cluster(tmp_path) as box:
        box.start_server(env={"QO_NO_BROWSER": "1"})
        yield box


@pytest.fixture
def context(browser: Browser, qo: Cluster) -> Iterator[BrowserContext]:
    """A fresh browser profile pointed at the test's server; failed pages keep a screenshot."""
    ctx = browser.new_context(base_url=qo.url, viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A tab; console errors (a script the CSP refused, say) and page errors are collected on
    ``page.problems``."""
    tab = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # Before sign-in the app asks who is signed in and hears 401: expected, not a problem.
        if message.type == "error" and "status of 401" not in message.text:
            problems.append(message.text)

    tab.on("console", console)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.problems = problems  # type: ignore[attr-defined]
    return tab


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot of the current screen as ``<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get("QO_SCREENSHOTS_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path
