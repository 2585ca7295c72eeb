"""Settings in real Chromium: an API key shown once, secrets by name only, members and roles,
the audit log of what was just done."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import shot
from tests.browser.ui import serious_violations, sign_in
from tests.e2e.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


def test_a_new_api_key_is_shown_once_and_works(page: Page, qo: Cluster) -> None:
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("link", name="API keys").click()
    form = page.get_by_role("form", name="Create an API key")
    form.get_by_label("Name").fill("ci-key")
    form.get_by_label("Role").select_option("viewer")
    form.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog")
    key = dialog.get_by_label("New API key").input_value()
    assert key.startswith("qo_k_")
    shot(page, "06-settings-api-key-shown-once")
    assert serious_violations(page) == []
    dialog.get_by_role("button", name="I have stored the key").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    # The key is nowhere on the page any more, and it really authenticates as a viewer.
    assert key not in page.content()
    answer = httpx.get(f"{qo.url}/api/v1/workflows", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    refused = httpx.post(
        f"{qo.url}/api/v1/secrets",
        json={"name": "NOPE", "value": "x"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert refused.status_code == 403


def test_secrets_show_names_only_and_members_get_roles(page: Page, qo: Cluster) -> None:
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/settings/secrets")
    form = page.get_by_role("form", name="Add a secret")
    form.get_by_label("Name").fill("SMTP_PASSWORD")
    form.get_by_label("Value").fill("very-secret-value-123")
    form.get_by_role("button", name="Add secret").click()
    expect(page.get_by_test_id("secret-SMTP_PASSWORD")).to_be_visible()
    assert "very-secret-value-123" not in page.content()
    shot(page, "07-settings-secrets")
    assert serious_violations(page) == []

    page.get_by_role("link", name="Members").click()
    form = page.get_by_role("form", name="Add a member")
    form.get_by_label("E-mail").fill("viewer@example.com")
    form.get_by_label("Role").select_option("viewer")
    form.get_by_label("Initial password").fill("viewer-password-123")
    form.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("row").filter(has_text="viewer@example.com")).to_contain_text("viewer")
    shot(page, "08-settings-members")
    assert serious_violations(page) == []

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("secret.create").first).to_be_visible()
    shot(page, "09-settings-audit-log")
    assert serious_violations(page) == []
    assert page.problems == []  # type: ignore[attr-defined]
