"""Sign in, the frame around every screen, themes, and the page policy (real Chromium)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import shot
from tests.browser.ui import serious_violations, sign_in
from tests.e2e.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_sign_in_shows_the_dashboard_and_a_wrong_password_says_so(page: Page, qo: Cluster) -> None:
    page.goto("/runs")
    # An unauthenticated visit lands on sign-in, then returns where it was going.
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shot(page, "01-sign-in")
    assert serious_violations(page) == []
    page.get_by_label("E-mail").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("password")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page).to_have_url(f"{qo.url}/runs")
    expect(page.get_by_text(ADMIN_EMAIL)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    # No script was refused by the page policy and nothing failed to load.
    assert page.problems == []  # type: ignore[attr-defined]


def test_theme_is_remembered_and_sign_out_ends_the_session(page: Page, qo: Cluster) -> None:
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    theme = page.evaluate("document.documentElement.dataset.theme")
    page.get_by_role("button", name="theme").click()
    flipped = page.evaluate("document.documentElement.dataset.theme")
    assert flipped != theme
    page.reload()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.theme") == flipped
    if flipped != "dark":
        page.get_by_role("button", name="theme").click()
    shot(page, "19-overview-dark")
    assert serious_violations(page) == []
    page.get_by_text(ADMIN_EMAIL).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto("/agents")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_the_page_reconnects_after_the_server_restarts_and_shows_what_it_missed(
    page: Page, qo: Cluster
) -> None:
    headers = {"Authorization": f"Bearer {qo.token}"}
    spec = {"name": "after-restart", "nodes": [{"id": "a", "type": "core.noop"}]}
    with httpx.Client(base_url=qo.url, headers=headers) as api:
        assert api.post("/api/v1/workflows", json={"spec": spec}).status_code == 201
        assert api.post("/api/v1/workflows/after-restart/deploy").status_code in (200, 201)
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/runs")
    live = page.get_by_role("status").filter(has_text="Live")
    expect(live).to_be_visible()
    # SIGKILL: the socket drops without a goodbye; the page must notice and keep trying.
    assert qo.server is not None
    qo.server.kill()
    expect(page.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible()
    qo.start_server(env={"QO_NO_BROWSER": "1"})
    expect(live).to_be_visible(timeout=30_000)
    # The same session and page: a run started now appears without a reload.
    with httpx.Client(base_url=qo.url, headers=headers) as api:
        run = api.post("/api/v1/workflows/after-restart/runs", json={"inputs": {}}).json()
    expect(page.get_by_test_id(f"run-{run['id']}")).to_be_visible(timeout=20_000)
