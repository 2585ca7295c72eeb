"""``specialized.http_request``: HTTP calls through the runtime's shared client.

Every hop (redirects are followed here, one request at a time) goes through the circuit breaker
of its target. ``auth`` sets the credentials (usually ``{{ secrets.X }}`` templates): a bearer
token or basic credentials travel in ``Authorization``, a custom header in the header named; none
of them follows a redirect to another origin. ``paginate`` fetches several pages (RFC 8288
``Link: rel=next``, a cursor, or a page number) and collects their items.
"""

from __future__ import annotations

import base64
import functools
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from quantum_orchestrator.agents.breaker import CircuitBreakers, target_of
from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.domain.errors import StepError

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_PAGES = 10
MAX_PAGES = 100
MAX_REDIRECTS = 20
_EXCERPT_CHARS = 200
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked to wait (a number or an HTTP date), if it said."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _invalid(message: str) -> StepError:
    return StepError(message, code="invalid_params")


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _body_of(response: httpx.Response) -> Any:
    if _is_json(response.headers.get("content-type", "")) and response.content:
        try:
            return response.json()
        except ValueError:
            # A server that labels broken JSON as JSON still gets its text through.
            return response.text
    return response.text


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where} must be a non-empty string")
    return value


def _auth_header(auth: Any) -> tuple[str, str]:
    """The header (name, value) that carries ``auth``."""
    if not isinstance(auth, dict) or len(auth) != 1:
        raise _invalid("auth must be one of {bearer}, {basic: {username, password}}, {header}")
    kind, value = next(iter(auth.items()))
    if kind == "bearer":
        return "Authorization", f"Bearer {_text(value, 'auth.bearer')}"
    if kind == "basic":
        if not isinstance(value, dict):
            raise _invalid("auth.basic must be {username, password}")
        username = _text(value.get("username"), "auth.basic.username")
        password = value.get("password")
        if not isinstance(password, str):
            raise _invalid("auth.basic.password must be a string")
        if ":" in username:
            raise _invalid("auth.basic.username must not contain ':'")
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return "Authorization", f"Basic {pair}"
    if kind == "header":
        if not isinstance(value, dict):
            raise _invalid("auth.header must be {name, value}")
        name = _text(value.get("name"), "auth.header.name")
        if not _TOKEN.match(name):
            raise _invalid("auth.header.name is not a valid header name")
        return name, _text(value.get("value"), "auth.header.value")
    raise _invalid(f"auth must be bearer, basic or header, not {kind!r}")


def _request_args(params: dict[str, Any]) -> dict[str, Any]:
    url = params.get("url")
    if not isinstance(url, str) or not url:
        raise StepError("specialized.http_request needs a url", code="invalid_params")
    if "json" in params and "body" in params:
        raise StepError("give either json or body, not both", code="invalid_params")
    timeout = params.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise StepError("timeout must be a positive number of seconds", code="invalid_params")
    headers = params.get("headers") or {}
    if not isinstance(headers, dict):
        raise _invalid("headers must be an object")
    headers = {str(k): str(v) for k, v in headers.items()}
    if params.get("auth") is not None:
        name, value = _auth_header(params["auth"])
        if name.lower() in {k.lower() for k in headers}:
            raise _invalid(f"give auth or a {name} header, not both")
        headers[name] = value
    args: dict[str, Any] = {
        "method": str(params.get("method") or "GET").upper(),
        "url": url,
        "headers": headers or None,
        "params": params.get("query") or None,
        "timeout": float(timeout),
    }
    if "json" in params:
        args["json"] = params["json"]
    elif "body" in params:
        args["content"] = str(params["body"])
    return args


def _credential_headers(params: dict[str, Any]) -> set[str]:
    """Names (lower case) of the headers that must not follow a redirect to another origin."""
    names = {"authorization", "proxy-authorization", "cookie"}
    if params.get("auth") is not None:
        names.add(_auth_header(params["auth"])[0].lower())
    return names


async def _send(
    client: httpx.AsyncClient,
    breakers: CircuitBreakers,
    request: httpx.Request,
    private: set[str],
) -> httpx.Response:
    """Send ``request``, following redirects hop by hop, each under its target's breaker."""
    origin = target_of(request.url)
    for _hop in range(MAX_REDIRECTS + 1):
        response = await breakers.call(
            request.url, functools.partial(client.send, request, follow_redirects=False)
        )
        following = response.next_request
        if following is None:
            return response
        await response.aclose()
        if target_of(following.url) != origin:
            for name in [n for n in following.headers if n.lower() in private]:
                del following.headers[name]
        request = following
    raise StepError(
        f"{request.method} {request.url} redirected more than {MAX_REDIRECTS} times",
        code="too_many_redirects",
    )


async def _call(
    client: httpx.AsyncClient,
    breakers: CircuitBreakers,
    args: dict[str, Any],
    private: set[str],
) -> httpx.Response:
    """One request (with its redirects); non-2xx answers and failures raise ``StepError``."""
    method, url = args["method"], args["url"]
    try:
        request = client.build_request(**args)
        response = await _send(client, breakers, request, private)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise StepError(f"invalid url {url!r}: {exc}", code="invalid_url") from exc
    except httpx.TimeoutException as exc:
        raise StepError(
            f"{method} {url} timed out after {args['timeout']}s",
            code="network_error",
            retryable=True,
        ) from exc
    except httpx.HTTPError as exc:
        raise StepError(
            f"{method} {url} failed: {type(exc).__name__}: {exc}",
            code="network_error",
            retryable=True,
        ) from exc
    status = response.status_code
    if not 200 <= status < 300:
        excerpt = response.text[:_EXCERPT_CHARS]
        raise StepError(
            f"{method} {url} answered {status}: {excerpt}",
            code=f"http_{status}",
            retryable=status >= 500 or status == 429,
            retry_after=retry_after(response),
        )
    return response


def _compile(path: Any, where: str) -> Any:
    if not isinstance(path, str) or not path:
        raise _invalid(f"{where} must be a JSONPath such as $.data[*]")
    try:
        return parse_jsonpath(path)
    except JSONPathError as exc:
        raise _invalid(f"{where}: invalid JSONPath {path!r}: {exc}") from exc


def _paging(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid("paginate must be an object")
    mode = value.get("mode")
    if mode not in ("link", "cursor", "page"):
        raise _invalid(f"paginate.mode must be link, cursor or page, not {mode!r}")
    max_pages = value.get("max_pages", DEFAULT_MAX_PAGES)
    if not isinstance(max_pages, int) or isinstance(max_pages, bool) or max_pages < 1:
        raise _invalid("paginate.max_pages must be a positive integer")
    paging: dict[str, Any] = {
        "mode": mode,
        "max_pages": min(max_pages, MAX_PAGES),
        "items": _compile(value["items"], "paginate.items") if "items" in value else None,
    }
    if mode == "cursor":
        paging["cursor"] = _compile(value.get("cursor_path"), "paginate.cursor_path")
        paging["param"] = _text(value.get("cursor_param"), "paginate.cursor_param")
    elif mode == "page":
        paging["param"] = _text(value.get("page_param", "page"), "paginate.page_param")
        start = value.get("start", 1)
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise _invalid("paginate.start must be a non-negative integer")
        paging["start"] = start
    return paging


def _items_of(body: Any, path: Any) -> list[Any]:
    """The items of one page: what ``path`` selects (a single list match is flattened)."""
    if path is None:
        return list(body) if isinstance(body, list) else [body]
    if not isinstance(body, dict | list):
        return []
    values = [match.value for match in path.find(body)]
    if len(values) == 1 and isinstance(values[0], list):
        return list(values[0])
    return values


def _cursor_of(body: Any, path: Any) -> Any:
    if not isinstance(body, dict | list):
        return None
    values = [match.value for match in path.find(body)]
    cursor = values[0] if values else None
    return None if cursor in (None, "", False) else cursor


async def _paginate(
    client: httpx.AsyncClient,
    breakers: CircuitBreakers,
    args: dict[str, Any],
    private: set[str],
    paging: dict[str, Any],
) -> dict[str, Any]:
    mode = paging["mode"]
    args = {**args, "params": dict(args["params"] or {})}
    page = paging.get("start", 0)
    if mode == "page":
        args["params"][paging["param"]] = page
    items: list[Any] = []
    pages = 0
    while True:
        response = await _call(client, breakers, args, private)
        body = _body_of(response)
        pages += 1
        found = _items_of(body, paging["items"])
        items.extend(found)
        following: Any = None
        if mode == "link":
            link = response.links.get("next", {}).get("url")
            if link:
                # The link carries its own query string.
                following = str(response.url.join(link))
                args = {**args, "url": following, "params": None}
        elif mode == "cursor":
            following = _cursor_of(body, paging["cursor"])
            if following is not None:
                args["params"][paging["param"]] = str(following)
        elif found:
            page += 1
            following = page
            args["params"][paging["param"]] = page
        if following is None or pages >= paging["max_pages"]:
            return {
                "status": response.status_code,
                "headers": dict(response.headers),
                "pages": pages,
                "items": items,
                "truncated": following is not None,
                "next": following,
            }


def http_request_handler(resources: NodeResources) -> Handler:
    """Build the handler, bound to the runtime's shared resources."""

    async def http_request(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Send the request; non-2xx answers and network failures raise ``StepError``."""
        args = _request_args(params)
        private = _credential_headers(params)
        paging = _paging(params["paginate"]) if params.get("paginate") is not None else None
        try:
            # The workspace's allow-list travels with the task; the agent's own is in resources.
            client = resources.http_client(extra_allow=ctx.http_allow)
        except ValueError as exc:
            raise StepError(
                f"the workspace's HTTP allow-list is invalid: {exc}", code="invalid_http_allow"
            ) from exc
        # The step log names the request without its query: query strings may carry tokens.
        target = f"{args['method']} {str(args['url']).split('?', 1)[0]}"
        if paging is not None:
            result = await _paginate(client, resources.breakers, args, private, paging)
            ctx.logger.info(
                "%s: %d pages, %d items%s",
                target,
                result["pages"],
                len(result["items"]),
                " (stopped at max_pages)" if result["truncated"] else "",
            )
            return result
        response = await _call(client, resources.breakers, args, private)
        ctx.logger.info(
            "%s answered %d in %.0f ms (%d bytes)",
            target,
            response.status_code,
            response.elapsed.total_seconds() * 1000,
            len(response.content),
        )
        return {
            "status": response.status_code,
            "headers": dict(response.headers),
            "body": _body_of(response),
        }

    return http_request
