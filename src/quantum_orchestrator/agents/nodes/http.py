"""``specialized.http_request``: one HTTP call through the runtime's shared client."""

from __future__ import annotations

from typing import Any

import httpx

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.domain.errors import StepError

DEFAULT_TIMEOUT = 30.0
_EXCERPT_CHARS = 200


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


def _request_args(params: dict[str, Any]) -> dict[str, Any]:
    url = params.get("url")
    if not isinstance(url, str) or not url:
        raise StepError("specialized.http_request needs a url", code="invalid_params")
    if "json" in params and "body" in params:
        raise StepError("give either json or body, not both", code="invalid_params")
    timeout = params.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise StepError("timeout must be a positive number of seconds", code="invalid_params")
    args: dict[str, Any] = {
        "method": str(params.get("method") or "GET").upper(),
        "url": url,
        "headers": params.get("headers") or None,
        "params": params.get("query") or None,
        "timeout": float(timeout),
    }
    if "json" in params:
        args["json"] = params["json"]
    elif "body" in params:
        args["content"] = str(params["body"])
    return args


def http_request_handler(resources: NodeResources) -> Handler:
    """Build the handler, bound to the runtime's shared resources."""

    async def http_request(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Send the request; non-2xx answers and network failures raise ``StepError``."""
        args = _request_args(params)
        try:
            # The workspace's allow-list travels with the task; the agent's own is in resources.
            client = resources.http_client(extra_allow=ctx.http_allow)
        except ValueError as exc:
            raise StepError(
                f"the workspace's HTTP allow-list is invalid: {exc}", code="invalid_http_allow"
            ) from exc
        try:
            response = await client.request(**args)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise StepError(f"invalid url {args['url']!r}: {exc}", code="invalid_url") from exc
        except httpx.TimeoutException as exc:
            raise StepError(
                f"{args['method']} {args['url']} timed out after {args['timeout']}s",
                code="network_error",
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise StepError(
                f"{args['method']} {args['url']} failed: {type(exc).__name__}: {exc}",
                code="network_error",
                retryable=True,
            ) from exc
        status = response.status_code
        if not 200 <= status < 300:
            excerpt = response.text[:_EXCERPT_CHARS]
            raise StepError(
                f"{args['method']} {args['url']} answered {status}: {excerpt}",
                code=f"http_{status}",
                retryable=status >= 500 or status == 429,
            )
        return {"status": status, "headers": dict(response.headers), "body": _body_of(response)}

    return http_request
