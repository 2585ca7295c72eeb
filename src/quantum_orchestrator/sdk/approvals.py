"""The approvals side of the API client: decide ``core.approval`` steps, list pending ones.

Mixed into :class:`~quantum_orchestrator.sdk.client.Client`, which supplies the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["ApprovalMethods"]


def _seg(value: object) -> str:
    """One URL path segment (node ids may hold characters that are special in URLs)."""
    return quote(str(value), safe="")


class ApprovalMethods:
    """Approve, reject and list approvals; mixed into ``Client``."""

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

    async def _all_pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        raise NotImplementedError

    async def approve(
        self, run_id: str, node_id: str, *, comment: str | None = None
    ) -> dict[str, Any]:
        """Approve a waiting approval step; returns the decision (who, when, why)."""
        return await self._decide(run_id, node_id, "approve", comment)

    async def reject(
        self, run_id: str, node_id: str, *, comment: str | None = None
    ) -> dict[str, Any]:
        """Reject a waiting approval step (it fails); returns the decision."""
        return await self._decide(run_id, node_id, "reject", comment)

    async def _decide(
        self, run_id: str, node_id: str, verb: str, comment: str | None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "POST",
            f"/runs/{_seg(run_id)}/steps/{_seg(node_id)}/{verb}",
            json={"comment": comment},
        )
        return result

    async def list_approvals(self) -> list[dict[str, Any]]:
        """The workspace's approvals waiting for a decision, oldest first (all pages)."""
        return await self._all_pages("/approvals", {"state": "pending"})
