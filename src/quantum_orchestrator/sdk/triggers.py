"""The triggers side of the API client: schedules, webhooks and run-completion triggers.

Mixed into :class:`~quantum_orchestrator.sdk.client.Client`, which supplies the transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["TriggerMethods"]


def _seg(value: object) -> str:
    """One URL path segment."""
    return quote(str(value), safe="")


class TriggerMethods:
    """Create, list, pause, resume, delete, preview triggers; mixed into ``Client``."""

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

    async def create_trigger(
        self, workflow: str, *, kind: str, name: str, **fields: Any
    ) -> dict[str, Any]:
        """Create a trigger on ``workflow``: ``kind`` is ``schedule`` (with ``schedule={...}``),
        ``webhook`` (the answer holds its ``secret``, shown once) or ``run_completion`` (with
        ``source`` and ``states``); ``inputs`` are the runs' inputs."""
        body = {"kind": kind, "name": name, **{k: v for k, v in fields.items() if v is not None}}
        result: dict[str, Any] = await self._request(
            "POST", f"/workflows/{_seg(workflow)}/triggers", json=body
        )
        return result

    async def list_triggers(
        self, workflow: str | None = None, *, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """The workspace's triggers, or one workflow's (every page)."""
        path = "/triggers" if workflow is None else f"/workflows/{_seg(workflow)}/triggers"
        return await self._all_pages(path, {"kind": kind})

    async def get_trigger(self, trigger_id: str) -> dict[str, Any]:
        """One trigger."""
        result: dict[str, Any] = await self._request("GET", f"/triggers/{_seg(trigger_id)}")
        return result

    async def pause_trigger(self, trigger_id: str) -> dict[str, Any]:
        """Stop a trigger firing until resumed."""
        result: dict[str, Any] = await self._request("POST", f"/triggers/{_seg(trigger_id)}/pause")
        return result

    async def resume_trigger(self, trigger_id: str) -> dict[str, Any]:
        """Let a paused trigger fire again (a schedule from now on)."""
        result: dict[str, Any] = await self._request("POST", f"/triggers/{_seg(trigger_id)}/resume")
        return result

    async def delete_trigger(self, trigger_id: str) -> None:
        """Remove a trigger; the runs it started stay."""
        await self._request("DELETE", f"/triggers/{_seg(trigger_id)}")

    async def rotate_trigger_secret(self, trigger_id: str) -> dict[str, Any]:
        """A new signing secret for a webhook (in the answer only; the old one stops)."""
        result: dict[str, Any] = await self._request(
            "POST", f"/triggers/{_seg(trigger_id)}/rotate-secret"
        )
        return result

    async def preview_schedule(self, trigger_id: str, *, count: int = 10) -> list[str]:
        """A schedule's next fire times (ISO 8601, UTC)."""
        result = await self._request(
            "GET", f"/schedules/{_seg(trigger_id)}/preview", params={"count": count}
        )
        fires: list[str] = result["fire_times"]
        return fires
