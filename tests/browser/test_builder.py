"""The visual builder in real Chromium: drag three nodes from the palette, connect them, set
their params, deploy, run; the YAML view; versions; a viewer cannot deploy."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import shot
from tests.browser.ui import serious_violations, sign_in
from tests.e2e.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def drop(page: Page, node_type: str, x: int, y: int) -> None:
    """Drag a node type from the palette onto the canvas at (x, y) of the canvas."""
    pane = page.get_by_role("region", name="Workflow canvas").locator(".react-flow__pane")
    page.get_by_role("button", name=node_type, exact=True).drag_to(
        pane, target_position={"x": x, "y": y}
    )


def connect(page: Page, source: str, target: str) -> None:
    """Drag from the source node's output handle to the target node's input handle."""
    out = page.locator(f".react-flow__node[data-id='{source}'] .react-flow__handle.source")
    into = page.locator(f".react-flow__node[data-id='{target}'] .react-flow__handle.target")
    out.hover()
    page.mouse.down()
    box = into.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()


def select(page: Page, node_id: str) -> None:
    """Select a node on the canvas (its side panel opens)."""
    page.locator(f".react-flow__node[data-id='{node_id}']").click()
    expect(page.locator("#qo-node-id")).to_have_value(node_id)


def test_build_a_workflow_by_drag_and_drop_deploy_and_run_it(page: Page, qo: Cluster) -> None:
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.get_by_role("link", name="Workflows").click()
    shot(page, "03-workflows-empty")
    assert serious_violations(page) == []
    page.get_by_role("button", name="New workflow").click()
    page.locator("#qo-wf-name").fill("built-in-browser")
    drop(page, "core.delay", 200, 80)
    drop(page, "specialized.transform", 200, 260)
    drop(page, "core.noop", 200, 440)
    for node in ("delay", "transform", "noop"):
        expect(page.locator(f".react-flow__node[data-id='{node}']")).to_be_visible()
    connect(page, "delay", "transform")
    connect(page, "transform", "noop")
    expect(page.get_by_role("group", name="Node delay (core.delay)")).to_be_visible()

    # Validation shows the server's complaint on the node it concerns.
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("heading", name="Problems")).to_be_visible()
    expect(page.get_by_role("group", name="Node delay (core.delay), has problems")).to_be_visible()
    shot(page, "14-builder-validation")

    select(page, "delay")
    page.get_by_role("textbox", name=re.compile(r"^seconds")).fill("1")
    select(page, "transform")
    page.get_by_role("textbox", name=re.compile(r"^value")).fill('{"built": "by drag and drop"}')
    page.get_by_role("button", name="Auto-layout").click()
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".qo-unsaved-indicator")).to_contain_text("All changes saved")
    shot(page, "15-builder")
    assert serious_violations(page) == []

    page.get_by_role("button", name="Deploy", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Deploy now").click()
    expect(page.locator(".notice").filter(has_text="Deployed version 1")).to_be_visible()

    spec = qo.get("workflows/built-in-browser")
    latest = spec.get("latest_version") or spec.get("workflow", {}).get("latest_version")
    assert latest == 1, spec
    headers = {"Authorization": f"Bearer {qo.token}"}
    run = httpx.post(
        f"{qo.url}/api/v1/workflows/built-in-browser/runs", json={"inputs": {}}, headers=headers
    ).json()
    finished = qo.wait_run(run["id"])
    assert finished["state"] == "succeeded", finished
    steps = {step["node_id"]: step for step in finished["steps"]}
    assert steps["transform"]["output"] == {"built": "by drag and drop"}
    assert qo.get("workflows/built-in-browser/versions/1")["spec"]["connections"] == [
        {"from": "delay", "to": "transform"},
        {"from": "transform", "to": "noop"},
    ]

    page.get_by_role("button", name="View YAML").click()
    expect(page.get_by_role("dialog")).to_contain_text("type: core.delay")
    shot(page, "16-builder-yaml")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_viewer_sees_workflows_but_no_deploy_button(page: Page, qo: Cluster) -> None:
    headers = {"Authorization": f"Bearer {qo.token}"}
    spec = {"name": "view-only", "nodes": [{"id": "a", "type": "core.noop"}]}
    with httpx.Client(base_url=qo.url, headers=headers) as api:
        assert api.post("/api/v1/workflows", json={"spec": spec}).status_code == 201
        assert api.post("/api/v1/workflows/view-only/deploy").status_code in (200, 201)
        member = api.post(
            "/api/v1/workspaces/00000000000000000000000000000001/members",
            json={"email": "viewer@example.com", "role": "viewer", "password": "viewer-pass-123"},
        )
        assert member.status_code in (200, 201), member.text
    sign_in(page, "viewer@example.com", "viewer-pass-123")
    page.goto("/workflows")
    expect(page.get_by_role("link", name="view-only", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="New workflow")).to_have_count(0)
    page.get_by_role("link", name="view-only", exact=True).click()
    expect(page.locator(".react-flow__node[data-id='a']")).to_be_visible()
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    expect(page.get_by_role("button", name="Save draft")).to_have_count(0)
    shot(page, "17-builder-viewer")
    page.goto("/workflows/view-only/versions")
    expect(page.get_by_role("button", name="Compare")).to_be_visible()
    shot(page, "18-versions")
    assert serious_violations(page) == []
