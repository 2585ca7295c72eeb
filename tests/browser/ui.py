"""What the browser tests do through the dashboard, as a person would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from tests.e2e.harness import Cluster

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"


def sign_in(page: Page, email: str, password: str) -> None:
    """Open the dashboard, sign in, and wait for the overview."""
    page.goto("/")
    expect(page.get_by_role("heading", name="Quantum Orchestrator")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def deploy(qo: Cluster, spec: dict[str, Any]) -> None:
    """Create and deploy a workflow through the API as the harness's admin."""
    headers = {"Authorization": f"Bearer {qo.token}"}
    with httpx.Client(base_url=qo.url, headers=headers, timeout=30) as api:
        created = api.post("/api/v1/workflows", json={"spec": spec})
        assert created.status_code == 201, created.text
        deployed = api.post(f"/api/v1/workflows/{spec['name']}/deploy")
        assert deployed.status_code in (200, 201), deployed.text


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the current screen.

    axe is evaluated as a function body (not a <script> tag), so the page's CSP, which forbids
    inline scripts, stays in force for the dashboard's own code.
    """
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;window.__axe = axe;")
    result = page.evaluate(
        "async () => { const r = await window.__axe.run(document, "
        "{resultTypes: ['violations']}); return JSON.stringify(r.violations); }"
    )
    violations: list[dict[str, Any]] = json.loads(result)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
