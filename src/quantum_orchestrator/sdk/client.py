"""The async HTTP client of the Quantum Orchestrator API (``/api/v1``).

>>> async with Client() as qo:                                   # doctest: +SKIP
...     version = await qo.deploy(spec)
...     run = await qo.run(version["workflow_name"], {"url": "https://example.com"})
...     run = await qo.wait(run["id"], timeout=60)

Every non-2xx answer raises :class:`ClientError` with the fields of the RFC 9457 problem body.

Credentials, in order: ``token=``, ``$QO_TOKEN``, then the token ``qo login`` stored for this
server (see :mod:`quantum_orchestrator.sdk.credentials`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.sdk.accounts import AccountMethods
from quantum_orchestrator.sdk.approvals import ApprovalMethods
from quantum_orchestrator.sdk.builder import Workflow
from quantum_orchestrator.sdk.credentials import CredentialStore
from quantum_orchestrator.sdk.errors import ClientError
from quantum_orchestrator.sdk.triggers import TriggerMethods
from quantum_orchestrator.sdk.usage import UsageMethods

__all__ = [
    "DEFAULT_SERVER",
    "TERMINAL_RUN_STATES",
    "Client",
    "ClientError",
    "default_server",
    "normalize_server",
]

DEFAULT_SERVER = "http://127.0.0.1:8787"
TERMINAL_RUN_STATES = frozenset({"succeeded", "failed", "cancelled"})

# How many times wait() reopens a dropped event stream before it settles for polling.
_MAX_STREAM_RETRIES = 3
_POLL_MIN = 0.25
_POLL_MAX = 2.0


def default_server() -> str:
    """``$QO_SERVER``, else the local default ``http://127.0.0.1:8787``."""
    return os.environ.get("QO_SERVER") or DEFAULT_SERVER


def _seg(value: object) -> str:
    """One URL path segment; names may hold characters that are special in URLs."""
    return quote(str(value), safe="")


def normalize_server(server: str) -> str:
    """``server`` as the client uses it (and ``qo login`` keys its tokens): no trailing slash,
    ``http://`` when no scheme is given."""
    server = server.strip().rstrip("/")
    if "://" not in server:
        server = "http://" + server
    return server


def _spec_dict(spec: Mapping[str, Any] | Workflow) -> dict[str, Any]:
    return spec.to_spec() if isinstance(spec, Workflow) else dict(spec)


def _is_terminal_event(event: Mapping[str, Any]) -> bool:
    kind = str(event.get("type") or "")
    if not kind.startswith("run."):
        return False
    return kind.removeprefix("run.") in TERMINAL_RUN_STATES or event.get("state") in (
        TERMINAL_RUN_STATES
    )


async def _parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, dict[str, Any]]]:
    """Server-Sent Events → ``(event id, event dict)``; comments (keep-alive pings) are skipped."""
    event_id: str | None = None
    event_type = "message"
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event_id, _event_payload(event_type, "\n".join(data))
            event_type, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            event_type = value or "message"
        elif field == "id" and "\0" not in value:
            event_id = value
    if data:
        yield event_id, _event_payload(event_type, "\n".join(data))


def _event_payload(event_type: str, data: str) -> dict[str, Any]:
    try:
        payload: Any = json.loads(data)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return {"type": event_type, "data": payload if payload is not None else data}
    payload.setdefault("type", event_type)
    return payload


class Client(AccountMethods, ApprovalMethods, TriggerMethods, UsageMethods):
    """Async client of one server; use as ``async with Client(...) as qo:`` (or ``aclose()``).

    ``server`` defaults to ``$QO_SERVER``, else ``http://127.0.0.1:8787``. ``token`` (sent as
    ``Authorization: Bearer``) defaults to ``$QO_TOKEN``, else the token ``qo login`` stored for
    this server; ``token=""`` sends none. ``workspace`` (id or slug, sent as ``X-QO-Workspace``)
    picks the workspace a session acts in; it defaults to ``$QO_WORKSPACE``, else the user's
    first. ``timeout`` bounds each request; the event stream has no read timeout, ``wait()``
    takes its own.
    """

    def __init__(
        self,
        server: str | None = None,
        *,
        token: str | None = None,
        workspace: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.server = normalize_server(server or default_server())
        if token is None:
            token = os.environ.get("QO_TOKEN") or CredentialStore().token_for(self.server)
        self.workspace = workspace or os.environ.get("QO_WORKSPACE") or None
        self.timeout = timeout
        headers = {
            "Accept": "application/json",
            "User-Agent": f"quantum-orchestrator-sdk/{__version__}",
        }
        if self.workspace:
            headers["X-QO-Workspace"] = self.workspace
        self._auth: dict[str, str] = {}
        self._use_token(token)
        self._http = httpx.AsyncClient(
            base_url=f"{self.server}/api/v1", headers=headers, timeout=timeout
        )

    def _use_token(self, token: str | None) -> None:
        # Kept apart from the default headers so that login can send none at all.
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}

    @property
    def authenticated(self) -> bool:
        """Whether requests carry a token."""
        return bool(self._auth)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    def _transport_error(self, exc: httpx.TransportError) -> ClientError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return ClientError(
                f"the server at {self.server} is not reachable; start one with `qo up`, "
                "or point --server / QO_SERVER at a running server",
                code="unreachable",
                retryable=True,
            )
        if isinstance(exc, httpx.TimeoutException):
            return ClientError(
                f"the server at {self.server} did not answer within {self.timeout:g} s",
                code="timeout",
                retryable=True,
            )
        return ClientError(
            f"lost the connection to the server at {self.server} ({type(exc).__name__}: {exc})",
            code="connection_error",
            retryable=True,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        anonymous: bool = False,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        sent = {**({} if anonymous else self._auth), **(headers or {})}
        try:
            response = await self._http.request(
                method, path, json=json, params=query or None, headers=sent or None
            )
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from None
        if not response.is_success:
            raise ClientError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ClientError(
                f"the server at {self.server} answered {method} {path} with something that is "
                "not JSON; is --server pointing at a Quantum Orchestrator server?",
                status=response.status_code,
                code="bad_response",
            ) from None

    async def _all_pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await self._request("GET", path, params={**(params or {}), "cursor": cursor})
            items.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            # A cursor seen before would loop forever; stop rather than trust the server.
            if not cursor or cursor in seen:
                return items
            seen.add(cursor)

    # Workflows

    async def validate(self, spec: Mapping[str, Any] | Workflow) -> dict[str, Any]:
        """Ask the server to check a spec: ``{"valid": bool, "errors": [{path, message}]}``."""
        result: dict[str, Any] = await self._request(
            "POST", "/workflows/validate", json={"spec": _spec_dict(spec)}
        )
        return result

    async def create_workflow(self, spec: Mapping[str, Any] | Workflow) -> dict[str, Any]:
        """Create a workflow draft; a name in use raises ``ClientError`` with status 409."""
        result: dict[str, Any] = await self._request(
            "POST", "/workflows", json={"spec": _spec_dict(spec)}
        )
        return result

    async def update_workflow(self, ref: str, spec: Mapping[str, Any] | Workflow) -> dict[str, Any]:
        """Replace the draft of workflow ``ref`` (id or name)."""
        result: dict[str, Any] = await self._request(
            "PUT", f"/workflows/{_seg(ref)}", json={"spec": _spec_dict(spec)}
        )
        return result

    async def deploy(self, spec: Mapping[str, Any] | Workflow) -> dict[str, Any]:
        """Create or update the draft named by the spec, then deploy it; returns the version.

        The version is ``{id, workflow_id, workflow_name, number, spec, created_at}``.
        """
        body = _spec_dict(spec)
        try:
            workflow = await self.create_workflow(body)
        except ClientError as exc:
            name = body.get("name")
            if exc.status != 409 or not isinstance(name, str) or not name:
                raise
            workflow = await self.update_workflow(name, body)
        ref = workflow.get("id") or workflow.get("name") or body.get("name")
        version: dict[str, Any] = await self._request("POST", f"/workflows/{_seg(ref)}/deploy")
        return version

    async def get_workflow(self, ref: str) -> dict[str, Any]:
        """One workflow by id or name, with its draft spec and ``latest_version``."""
        result: dict[str, Any] = await self._request("GET", f"/workflows/{_seg(ref)}")
        return result

    async def list_workflows(self) -> list[dict[str, Any]]:
        """Every workflow (all pages)."""
        return await self._all_pages("/workflows")

    async def list_versions(self, ref: str) -> list[dict[str, Any]]:
        """Every deployed version of a workflow (all pages)."""
        return await self._all_pages(f"/workflows/{_seg(ref)}/versions")

    async def get_version(self, ref: str, number: int) -> dict[str, Any]:
        """One deployed version of a workflow."""
        result: dict[str, Any] = await self._request(
            "GET", f"/workflows/{_seg(ref)}/versions/{int(number)}"
        )
        return result

    # Runs

    async def run(
        self,
        workflow: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Start a run of ``workflow`` (id or name), of its latest version unless ``version``.

        The same ``idempotency_key`` twice returns the first run instead of starting another.
        """
        body: dict[str, Any] = {"inputs": dict(inputs or {})}
        if version is not None:
            body["version"] = version
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        result: dict[str, Any] = await self._request(
            "POST", f"/workflows/{_seg(workflow)}/runs", json=body, headers=headers
        )
        return result

    async def get_run(self, run_id: str) -> dict[str, Any]:
        """One run with its steps and their attempts."""
        result: dict[str, Any] = await self._request("GET", f"/runs/{_seg(run_id)}")
        return result

    async def step_logs(
        self, run_id: str, node_id: str, attempt: int | None = None
    ) -> list[dict[str, Any]]:
        """Every line the step's handler logged (of one attempt, or all), oldest first."""
        return await self._all_pages(
            f"/runs/{_seg(run_id)}/steps/{_seg(node_id)}/logs", {"attempt": attempt}
        )

    async def list_runs(
        self,
        workflow: str | None = None,
        state: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of runs, newest first: ``{"items": [...], "next_cursor": str | None}``."""
        result: dict[str, Any] = await self._request(
            "GET",
            "/runs",
            params={"workflow": workflow, "state": state, "limit": limit, "cursor": cursor},
        )
        return result

    async def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a run; returns the run."""
        result: dict[str, Any] = await self._request("POST", f"/runs/{_seg(run_id)}/cancel")
        return result

    async def retry(self, run_id: str) -> dict[str, Any]:
        """Retry a failed or cancelled run from its failed steps; returns the run."""
        result: dict[str, Any] = await self._request("POST", f"/runs/{_seg(run_id)}/retry")
        return result

    async def _stream(
        self, run_id: str, last_event_id: str | None
    ) -> AsyncGenerator[tuple[str | None, dict[str, Any]], None]:
        headers = {**self._auth, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        # Steps may run for long between events: no read timeout on the stream.
        timeout = httpx.Timeout(self.timeout, read=None)
        try:
            async with self._http.stream(
                "GET", f"/runs/{_seg(run_id)}/events", headers=headers, timeout=timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise ClientError.from_response(response)
                async for item in _parse_sse(response.aiter_lines()):
                    yield item
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from None

    async def events(
        self, run_id: str, *, last_event_id: int | str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The run's events as they happen, until the server closes the stream after the end.

        Each event is ``{id, run_id, step_id, node_id, type, state, ts, data}``. Events before
        ``last_event_id`` are skipped (the server replays the rest).
        """
        start = None if last_event_id is None else str(last_event_id)
        async with aclosing(self._stream(run_id, start)) as stream:
            async for _, event in stream:
                yield event

    async def wait(
        self,
        run_id: str,
        timeout: float | None = None,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Wait until the run is succeeded, failed or cancelled; returns the run (with steps).

        Follows the event stream (calling ``on_event`` for each event) and reopens it where it
        stopped if it drops; if it keeps failing, polls the run instead. Past ``timeout``
        seconds raises ``ClientError`` with code ``timeout``.
        """
        try:
            async with asyncio.timeout(timeout):
                return await self._wait(run_id, on_event)
        except TimeoutError:
            raise ClientError(
                f"run {run_id} did not finish within {timeout:g} s (it goes on running)",
                code="timeout",
            ) from None

    async def _wait(
        self, run_id: str, on_event: Callable[[dict[str, Any]], None] | None
    ) -> dict[str, Any]:
        last_id: str | None = None
        failures = 0
        poll = _POLL_MIN
        while True:
            finished = False
            if failures < _MAX_STREAM_RETRIES:
                progressed = False
                try:
                    async with aclosing(self._stream(run_id, last_id)) as stream:
                        async for event_id, event in stream:
                            last_id = event_id if event_id is not None else last_id
                            progressed = True
                            if on_event is not None:
                                on_event(event)
                            if _is_terminal_event(event):
                                finished = True
                                break
                except ClientError as exc:
                    if exc.status is not None and exc.status < 500 and exc.status != 429:
                        # The endpoint is missing or refused: streaming will not get better.
                        failures = _MAX_STREAM_RETRIES
                    else:
                        failures += 1
                else:
                    if progressed and not finished:
                        # Closed early but made progress: resume where it stopped, at once.
                        failures = 0
                        continue
                    if not progressed and not finished:
                        failures += 1
            run = await self.get_run(run_id)
            if run.get("state") in TERMINAL_RUN_STATES:
                return run
            # Still running (after a broken stream, or the terminal event raced the commit).
            await asyncio.sleep(poll)
            poll = min(poll * 2, _POLL_MAX)

    # Agents and node types

    async def list_agents(self) -> list[dict[str, Any]]:
        """Every registered agent (all pages)."""
        return await self._all_pages("/agents")

    async def drain_agent(self, agent_id: str) -> dict[str, Any] | None:
        """Ask an agent to finish its running steps and take no new ones."""
        result: dict[str, Any] | None = await self._request(
            "POST", f"/agents/{_seg(agent_id)}/drain"
        )
        return result

    async def node_types(self) -> list[dict[str, Any]]:
        """Every node type the server knows: built-in ones and those agents registered."""
        return await self._all_pages("/node-types")
