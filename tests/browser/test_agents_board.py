"""The agent control board in real Chromium: a ``qo agent`` process appears live, draining is
confirmed, and a SIGKILLed agent turns lost without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import shot
from tests.browser.ui import deploy, serious_violations, sign_in
from tests.e2e.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster, running_on_agent

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
    # The agent holds a long step while it drains, so "draining" lasts long enough to be seen;
    # an idle agent would go straight from draining to offline.
    qo.start_agent("tasks", name="drain-me", pool="e2e")
    found = qo.agent_named("drain-me")
    assert found is not None
    deploy(
        qo,
        {
            "name": "hold",
            "nodes": [
                {
                    "id": "work",
                    "type": "test.slow",
                    "params": {"tag": "hold", "first_sleep": 12, "sleep": 0},
                    "timeout": 120,
                }
            ],
        },
    )
    run_id = qo.start_run("hold")
    qo.wait_step(run_id, "work", running_on_agent, "running on drain-me")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/agents")
    row = page.get_by_test_id(f"agent-{found['id']}")
    row.get_by_role("button", name="Drain").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Drain").click()
    expect(row).to_have_class(re.compile(r"\bag-row-draining\b"), timeout=10_000)
    expect(row).to_contain_text("draining")
    # The held step finishes, then the drained agent leaves: the board follows without reload.
    expect(row).to_have_class(re.compile(r"\bag-row-offline\b"), timeout=60_000)
    assert qo.run(run_id)["state"] == "succeeded"
    # What the handler logged is in the run's step panel.
    page.goto(f"/runs/{run_id}")
    page.locator(".react-flow__node[data-id=work]").click()
    lines = page.get_by_role("complementary", name="Step work").get_by_role(
        "list", name="Log lines"
    )
    expect(lines).to_contain_text("INFO")
    expect(lines).to_contain_text("holding for 12 s (first delivery: True)")
    lines.scroll_into_view_if_needed()
    shot(page, "21-step-logs")
    assert serious_violations(page) == []
