"""The built dashboard served beside the API: fallback, caching, CSP, 404s, path traversal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from tests.conftest import make_settings
from tests.integration.api.helpers import API, assert_problem
from tests.support.server import LiveApp, live_app

from quantum_orchestrator.api.dashboard import IMMUTABLE, PACKAGED_DIST

INDEX = (
    b"<!doctype html><html><head>"
    b"<script type=module src=/assets/app-1a2b.js></script></head></html>"
)
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "app-1a2b.js").write_text("console.log('qo')")
    (root / "assets" / "app-1a2b.css").write_text("body{margin:0}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    # A file beside the bundle that must never be reachable through it.
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


@pytest.fixture
async def ui(tmp_path: Path, sqlite_url: str, dist: Path) -> AsyncIterator[LiveApp]:
    settings = make_settings(tmp_path, sqlite_url)
    settings.api.dashboard_dir = dist
    settings.agents.enabled = False
    async with live_app(settings) as app:
        yield app


@pytest.fixture
async def browser(ui: LiveApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ui.url) as client:
        yield client


async def _raw_get(url: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (clients normalise ``..`` away): status and body."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_index_and_app_routes_get_the_page_uncached_with_the_ui_policy(
    browser: httpx.AsyncClient,
) -> None:
    for path in ("/", "/runs", "/runs/0193abc/steps", "/workflows/new/", "/agents?state=online"):
        response = await browser.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.content == INDEX, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["content-security-policy"] == UI_CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert "unsafe-inline" not in response.headers["content-security-policy"]


async def test_hashed_assets_are_cached_for_ever(browser: httpx.AsyncClient) -> None:
    script = await browser.get("/assets/app-1a2b.js")
    assert script.status_code == 200
    assert script.text == "console.log('qo')"
    assert script.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert "javascript" in script.headers["content-type"]
    style = await browser.get("/assets/app-1a2b.css")
    assert style.headers["content-type"].startswith("text/css")
    icon = await browser.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"
    head = await browser.head("/assets/app-1a2b.js")
    assert head.status_code == 200
    assert head.content == b""


async def test_missing_files_are_404_not_the_page(browser: httpx.AsyncClient) -> None:
    for path in ("/assets/app-0000.js", "/assets/nothing", "/robots.txt", "/logo.png"):
        problem = assert_problem(await browser.get(path), 404)
        assert problem["code"] == "not_found", path


async def test_api_paths_are_untouched(ui: LiveApp, browser: httpx.AsyncClient) -> None:
    unknown = await browser.get(f"{API}/no-such-thing")
    assert_problem(unknown, 404)
    assert unknown.headers["content-security-policy"].startswith("default-src 'none'")
    assert_problem(await browser.get(f"{API}/runs"), 401)
    wrong_method = await browser.delete(f"{API}/overview")
    assert wrong_method.status_code == 405
    health = await browser.get("/healthz")
    assert health.status_code == 200
    assert health.headers["content-security-policy"].startswith("default-src 'none'")
    docs = await browser.get("/docs")
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert (await browser.get(f"{API}/openapi.json")).status_code == 200
    # Writes to the dashboard's paths are not pages.
    assert (await browser.post("/runs", json={})).status_code == 405


@pytest.mark.parametrize(
    "target",
    [
        "/..%2f..%2fetc/passwd",
        "/assets/../../pyproject.toml",
        "/assets/..%2f..%2fsecret.txt",
        "/../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%5c..%5csecret.txt",
        "//etc/passwd",
    ],
)
async def test_path_traversal_is_refused(ui: LiveApp, target: str) -> None:
    status, body = await _raw_get(ui.url, target)
    assert b"not for the web" not in body
    assert b"root:" not in body
    assert b"[project]" not in body
    assert status in (400, 404), (target, status, body[:200])


async def test_without_a_bundle_the_root_explains_itself(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    settings.api.dashboard_dir = tmp_path / "not-built"
    settings.agents.enabled = False
    async with live_app(settings) as app, httpx.AsyncClient(base_url=app.url) as client:
        for path in ("/", "/runs/1"):
            problem = assert_problem(await client.get(path), 404)
            assert problem["code"] == "dashboard_not_built"
            assert "npm run build" in problem["detail"]
        assert (await client.get("/healthz")).status_code == 200


def test_the_packaged_bundle_is_looked_for_inside_the_package() -> None:
    assert PACKAGED_DIST.parts[-3:] == ("quantum_orchestrator", "web", "dist")
