"""The agent control board in real Chromium: a ``qo agent`` process appears live, draining is
confirmed, and a SIGKILLed agent turns lost without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import shot
from tests.browser.ui import serious_violations, sign_in
from tests.e2e.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


def test_an_agent_appears_live_and_turns_lost_when_killed(page: Page, qo: Cluster) -> None:
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.get_by_role("link", name="Agents").click()
    expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
    # The page is open before the agent starts: it must arrive over the WebSocket.
    agent = qo.start_agent("tasks", name="board-agent", pool="e2e")
    row_data = qo.agent_named("board-agent")
    assert row_data is not None
    row = page.get_by_test_id(f"agent-{row_data['id']}")
    expect(row).to_contain_text("board-agent", timeout=20_000)
    expect(row).to_contain_text("online")
    expect(row).to_contain_text("e2e")
    shot(page, "05-agents")
    assert serious_violations(page) == []
    agent.kill()
    expect(row).to_contain_text("lost", timeout=30_000)
    assert page.problems == []  # type: ignore[attr-defined]


def test_draining_asks_first_then_shows_the_new_state(page: Page, qo: Cluster) -> None:
    qo.start_agent("tasks", name="drain-me", pool="e2e")
    found = qo.agent_named("drain-me")
    assert found is not None
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/agents")
    row = page.get_by_test_id(f"agent-{found['id']}")
    row.get_by_role("button", name="Drain").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Drain").click()
    expect(row).to_contain_text("draining", timeout=20_000)
    assert qo.agent_named("drain-me")["state"] in ("draining", "offline")  # type: ignore[index]
