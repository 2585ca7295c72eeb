"""Sign in, the frame around every screen, themes, and the page policy (real Chromium)."""

from __future__ import annotations

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
