"""The usage side of the API client: LLM tokens and cost, and the workspace's monthly budget.

Mixed into :class:`~quantum_orchestrator.sdk.client.Client`, which supplies the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["UsageMethods"]


class UsageMethods:
    """Read usage, read and set the budget; mixed into ``Client``."""

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
        raise NotImplementedError

    async def usage(
        self, *, group_by: str = "workflow", since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        """Tokens and cost summed per ``group_by`` (workspace, workflow, run, agent, model),
        between ``since`` and ``until`` (ISO 8601 with a zone); ``{group_by, items, total}``."""
        params: dict[str, Any] = {"group_by": group_by}
        if since is not None:
            params["from"] = since
        if until is not None:
            params["to"] = until
        answer: dict[str, Any] = await self._request("GET", "/usage", params=params)
        return answer

    async def budget(self) -> dict[str, Any]:
        """The workspace's monthly limits and what it spent this month."""
        answer: dict[str, Any] = await self._request("GET", "/usage/budget")
        return answer

    async def set_budget(
        self,
        *,
        token_limit: int | None = None,
        cost_limit: float | None = None,
        alert_ratio: float = 0.8,
    ) -> dict[str, Any]:
        """Replace the monthly limits (``None``: no limit of that kind); owners only."""
        body = {"token_limit": token_limit, "cost_limit": cost_limit, "alert_ratio": alert_ratio}
        answer: dict[str, Any] = await self._request("PUT", "/usage/budget", json=body)
        return answer
