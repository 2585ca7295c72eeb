"""Runs in real Chromium: start a run from its inputs form and watch its steps turn green live,
cancel a long run, the overview's figures, the timeline and the step panel."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import shot
from tests.browser.ui import deploy, serious_violations, sign_in
from tests.e2e.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


GREET = {
    "name": "greet",
    "inputs": {
        "type": "object",
        "required": ["who"],
        "properties": {"who": {"type": "string", "description": "Whom to greet."}},
    },
    "nodes": [
        {"id": "wait", "type": "core.delay", "params": {"seconds": 1.5}},
        {
            "id": "hello",
            "type": "specialized.transform",
            "params": {"value": {"greeting": "hello {{ inputs.who }}"}},
        },
        {"id": "done", "type": "core.noop"},
    ],
    "connections": [{"from": "wait", "to": "hello"}, {"from": "hello", "to": "done"}],
    "outputs": {"greeting": "{{ nodes.hello.output.greeting }}"},
}


def test_start_a_run_and_see_its_steps_turn_green_live(page: Page, qo: Cluster) -> None:
    deploy(qo, GREET)
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/runs?start=greet")
    page.get_by_label("who").fill("browser")
    shot(page, "10-start-run")
    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]+"))
    wait = page.get_by_test_id("step-wait")
    done = page.get_by_test_id("step-done")
    # The page was not reloaded: every change below arrives over the WebSocket.
    page.evaluate("window.__sameDocument = true")
    # A delay waits in the database (the engine's timer), not on an agent.
    expect(wait).to_have_attribute("data-state", "waiting", timeout=10_000)
    expect(done).not_to_have_attribute("data-state", "succeeded")
    for node in ("wait", "hello", "done"):
        expect(page.get_by_test_id(f"step-{node}")).to_have_attribute(
            "data-state", "succeeded", timeout=20_000
        )
    expect(done).to_contain_text("succeeded")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_text("hello browser").first).to_be_visible()
    shot(page, "11-run-view")
    assert serious_violations(page) == []
    page.locator(".react-flow__node[data-id=hello]").click()
    panel = page.get_by_role("complementary", name="Step hello")
    expect(panel).to_contain_text("hello browser")
    shot(page, "12-step-panel")
    assert page.problems == []  # type: ignore[attr-defined]


def test_cancel_a_long_run_after_confirming(page: Page, qo: Cluster) -> None:
    deploy(
        qo,
        {
            "name": "long",
            "nodes": [{"id": "sleep", "type": "core.delay", "params": {"seconds": 300}}],
        },
    )
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/runs?start=long")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_test_id("step-sleep")).to_have_attribute("data-state", "waiting")
    page.get_by_role("button", name="Cancel run").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    shot(page, "13-cancel-confirm")
    dialog.get_by_role("button", name="Stop the run").click()
    expect(page.get_by_test_id("step-sleep")).to_have_attribute(
        "data-state", "cancelled", timeout=20_000
    )
    run_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    assert qo.run(run_id)["state"] == "cancelled"


def test_the_overview_and_runs_list_show_what_the_database_holds(page: Page, qo: Cluster) -> None:
    deploy(qo, GREET)
    headers = {"Authorization": f"Bearer {qo.token}"}
    run = httpx.post(
        f"{qo.url}/api/v1/workflows/greet/runs",
        json={"inputs": {"who": "kpi"}},
        headers=headers,
    ).json()
    qo.wait_run(run["id"])
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    overview = page.locator("section.overview[aria-busy=false]")
    expect(overview).to_contain_text("Success rate")
    expect(overview).to_contain_text("100.0 %")
    expect(overview).to_contain_text("of 1 finished runs")
    shot(page, "02-overview")
    assert serious_violations(page) == []
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_test_id(f"run-{run['id']}")).to_contain_text("succeeded")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_test_id(f"run-{run['id']}")).to_have_count(0)
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_test_id(f"run-{run['id']}")).to_be_visible()
    shot(page, "04-runs")
    assert serious_violations(page) == []


def test_approve_a_waiting_step_with_a_comment(page: Page, qo: Cluster) -> None:
    deploy(
        qo,
        {
            "name": "needs-approval",
            "nodes": [
                {"id": "ask", "type": "core.approval", "params": {"message": "Refund 20 EUR?"}},
                {"id": "pay", "type": "core.noop"},
            ],
            "connections": [{"from": "ask", "to": "pay"}],
        },
    )
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/runs?start=needs-approval")
    page.get_by_role("button", name="Start run").click()
    ask = page.get_by_test_id("step-ask")
    expect(ask).to_have_attribute("data-state", "waiting")
    # The keyboard reaches the step: focus its node and press Enter.
    page.locator(".react-flow__node[data-id=ask]").focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("complementary", name="Step ask")
    panel.get_by_label("Comment (kept with the decision and audited)").fill("ok for this one")
    shot(page, "20-approval")
    assert serious_violations(page) == []
    panel.get_by_role("button", name="Approve").click()
    expect(ask).to_have_attribute("data-state", "succeeded", timeout=20_000)
    expect(page.get_by_test_id("step-pay")).to_have_attribute(
        "data-state", "succeeded", timeout=20_000
    )
    run_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    step = next(s for s in qo.run(run_id)["steps"] if s["node_id"] == "ask")
    assert step["output"]["decision"] == "approved", step
    assert step["output"]["comment"] == "ok for this one", step
    assert step["output"]["decided_by"] == ADMIN_EMAIL, step
