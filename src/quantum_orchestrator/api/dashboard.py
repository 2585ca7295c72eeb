"""The web dashboard: the built single-page app served at ``/`` beside the API.

It answers only what no API route matched (it is the router's fallback, so API paths keep their
own 404 and 405 answers): a file of the bundle if there is one, ``index.html`` for an app route
(a path whose last segment has no extension, so the browser's router takes over), and 404 for
a missing asset. Hashed files under ``/assets/`` never change and are cached for a year;
``index.html`` is revalidated on every load so a new deployment is picked up at once.

The policy of what the page may load (CSP) is set by the request middleware for these paths.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PACKAGED_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
ASSETS_PREFIX = "/assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Paths that belong to the server, never to the app: their unknown paths stay API 404s.
_SERVER_PREFIXES = ("/api/", "/docs", "/healthz", "/readyz", "/metrics")
_FORBIDDEN_SEGMENTS = frozenset({"", ".", ".."})
# The bundle's own file types, fixed: the platform's table (/etc/mime.types, the Windows
# registry) may say text/plain for .js, which browsers refuse as a module under nosniff.
_MEDIA_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".txt": "text/plain",
}


def _safe(segments: list[str]) -> bool:
    """No ``..``, ``.`` or empty segment (a trailing slash aside), backslash or NUL."""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if (segment in _FORBIDDEN_SEGMENTS and not (last and segment == "")) or any(
            char in segment for char in ("\\", "\x00")
        ):
            return False
    return True


def is_dashboard_path(path: str) -> bool:
    """Whether ``path`` is served by the dashboard (the UI's policies apply to it)."""
    return path != "/api" and not path.startswith(_SERVER_PREFIXES)


def _problem(status: int, code: str, detail: str, scope: Scope) -> Response:
    titles = {404: "Not Found", 405: "Method Not Allowed"}
    body = {
        "type": f"https://quantum-orchestrator.dev/problems/{code}",
        "title": titles[status],
        "status": status,
        "detail": detail,
        "code": code,
        # Set by the request middleware, like every other answer's.
        "request_id": scope.get("state", {}).get("request_id"),
        "instance": scope.get("path", ""),
    }
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers={"Cache-Control": NO_CACHE},
    )


class Dashboard:
    """The ASGI fallback app that serves the bundle in ``directory`` (or explains its absence).

    ``fallback`` answers the server's own paths that no route matched (the router's 404).
    """

    def __init__(self, *, directory: Path | None, fallback: ASGIApp) -> None:
        self.root = (directory or PACKAGED_DIST).resolve()
        self.fallback = fallback

    @property
    def built(self) -> bool:
        """Whether the bundle is there (checked per request: it may be built while running)."""
        return (self.root / "index.html").is_file()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        if scope["type"] != "http" or not is_dashboard_path(path):
            await self.fallback(scope, receive, send)
            return
        response = self._answer(scope)
        await response(scope, receive, send)

    def _answer(self, scope: Scope) -> Response:
        method: str = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD"):
            return _problem(405, "method_not_allowed", "the dashboard only answers GET", scope)
        if not self.built:
            return _problem(
                404,
                "dashboard_not_built",
                f"the web dashboard is not built: no index.html in {self.root} (build web/ "
                "with `npm run build`, or set QO_API__DASHBOARD_DIR); the API is at /api/v1 "
                "and its documentation at /docs",
                scope,
            )
        segments = path.split("/")[1:]
        if path == "/" or segments == [""]:
            return self._file(self.root / "index.html", NO_CACHE)
        # Anything that could step out of the bundle is refused before touching the disk:
        # '..' and '.' segments, empty ones (//), backslashes and NUL.
        if not _safe(segments):
            return _problem(404, "not_found", "no such file in the dashboard", scope)
        candidate = (self.root / "/".join(segments)).resolve()
        if not candidate.is_relative_to(self.root):
            return _problem(404, "not_found", "no such file in the dashboard", scope)
        if candidate.is_file():
            hashed = path.startswith(ASSETS_PREFIX)
            return self._file(candidate, IMMUTABLE if hashed else NO_CACHE)
        if path.startswith(ASSETS_PREFIX) or "." in segments[-1]:
            # A missing asset must not be answered with the page: a script tag would get HTML.
            return _problem(404, "not_found", "no such file in the dashboard", scope)
        # A route of the app (/runs/123): the page, whose router shows it.
        return self._file(self.root / "index.html", NO_CACHE)

    def _file(self, path: Path, cache_control: str) -> Response:
        media_type = _MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return FileResponse(
            path,
            media_type=media_type or "application/octet-stream",
            headers={"Cache-Control": cache_control},
        )


def install_dashboard(app: Any, *, directory: Path | None) -> None:
    """Make the dashboard the fallback of ``app``'s router (after every API route)."""
    app.router.default = Dashboard(directory=directory, fallback=app.router.default)
