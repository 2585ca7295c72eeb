"""The account side of the API client: log in, workspaces, members, API keys, agent tokens.

Mixed into :class:`~quantum_orchestrator.sdk.client.Client`, which supplies the transport; kept
apart so that each module holds one idea.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from quantum_orchestrator.sdk.errors import ClientError

__all__ = ["AccountMethods"]


def _seg(value: object) -> str:
    """One URL path segment; ids and slugs may hold characters that are special in URLs."""
    return quote(str(value), safe="")


def _when(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        # The server wants an absolute moment; a naive one means the local clock here.
        value = value.astimezone()
    return value.isoformat()


class AccountMethods:
    """Accounts, workspaces, members, API keys and agent tokens; mixed into ``Client``."""

    workspace: str | None

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

    def _use_token(self, token: str | None) -> None:
        raise NotImplementedError

    # Sessions

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """Exchange an e-mail and password for a session token, and use it from now on.

        Returns ``{access_token, token_type, expires_in}``; a wrong password raises
        ``ClientError`` with status 401 (and 429 after too many failures).
        """
        answer: dict[str, Any] = await self._request(
            "POST", "/auth/token", json={"email": email, "password": password}, anonymous=True
        )
        self._use_token(str(answer["access_token"]))
        return answer

    async def logout(self) -> None:
        """End the session of this client's token on the server."""
        await self._request("POST", "/auth/logout")

    async def me(self) -> dict[str, Any]:
        """The signed-in user, the workspace the requests act in, the role there, all workspaces."""
        result: dict[str, Any] = await self._request("GET", "/auth/me")
        return result

    # Workspaces and members

    async def list_workspaces(self) -> list[dict[str, Any]]:
        """The workspaces the signed-in user belongs to, with the user's role in each."""
        return await self._all_pages("/workspaces")

    async def create_workspace(self, name: str) -> dict[str, Any]:
        """A new workspace; the signed-in user becomes its owner."""
        result: dict[str, Any] = await self._request("POST", "/workspaces", json={"name": name})
        return result

    async def _workspace_ref(self, workspace: str | None) -> str:
        """The workspace a members call acts on: the argument, the client's, else the user's."""
        chosen = workspace or self.workspace
        if chosen:
            return chosen
        try:
            me = await self.me()
        except ClientError as exc:
            if exc.status != 403:
                raise
            # /auth/me is for people; an API key must say which workspace it means.
            raise ClientError(
                "name the workspace (--workspace or QO_WORKSPACE; workspace= in Python): "
                "an API key cannot look up its own",
                code="workspace_required",
            ) from None
        current = me.get("workspace_id")
        if not current:
            raise ClientError(
                "you are not a member of any workspace: create one first",
                code="no_workspace",
            )
        return str(current)

    async def list_members(self, *, workspace: str | None = None) -> list[dict[str, Any]]:
        """The members of a workspace (default: the client's, else the user's first)."""
        ref = await self._workspace_ref(workspace)
        return await self._all_pages(f"/workspaces/{_seg(ref)}/members")

    async def add_member(
        self,
        email: str,
        role: str,
        *,
        password: str | None = None,
        name: str | None = None,
        workspace: str | None = None,
    ) -> dict[str, Any]:
        """Add a user by e-mail; with ``password`` the account is created when it is new."""
        body: dict[str, Any] = {"email": email, "role": str(role)}
        if password is not None:
            body["password"] = password
        if name:
            body["name"] = name
        ref = await self._workspace_ref(workspace)
        result: dict[str, Any] = await self._request(
            "POST", f"/workspaces/{_seg(ref)}/members", json=body
        )
        return result

    async def set_member_role(
        self, user_id: str, role: str, *, workspace: str | None = None
    ) -> dict[str, Any]:
        """Change a member's role."""
        ref = await self._workspace_ref(workspace)
        result: dict[str, Any] = await self._request(
            "PUT", f"/workspaces/{_seg(ref)}/members/{_seg(user_id)}", json={"role": str(role)}
        )
        return result

    async def remove_member(self, user_id: str, *, workspace: str | None = None) -> None:
        """Remove a member from a workspace (its last owner stays)."""
        ref = await self._workspace_ref(workspace)
        await self._request("DELETE", f"/workspaces/{_seg(ref)}/members/{_seg(user_id)}")

    # API keys

    async def create_api_key(
        self, name: str, role: str, *, expires_at: datetime | str | None = None
    ) -> dict[str, Any]:
        """A new API key of the workspace; the answer's ``key`` is never shown again."""
        body: dict[str, Any] = {"name": name, "role": str(role)}
        if expires_at is not None:
            body["expires_at"] = _when(expires_at)
        result: dict[str, Any] = await self._request("POST", "/api-keys", json=body)
        return result

    async def list_api_keys(self) -> list[dict[str, Any]]:
        """The workspace's API keys that still work (metadata only, never the keys)."""
        return await self._all_pages("/api-keys")

    async def rotate_api_key(
        self, key_id: str, *, grace_hours: float | None = None
    ) -> dict[str, Any]:
        """A new key replacing ``key_id``; the old one works for ``grace_hours`` more."""
        body: dict[str, Any] = {} if grace_hours is None else {"grace_hours": grace_hours}
        result: dict[str, Any] = await self._request(
            "POST", f"/api-keys/{_seg(key_id)}/rotate", json=body
        )
        return result

    async def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key now."""
        await self._request("DELETE", f"/api-keys/{_seg(key_id)}")

    # Agent tokens

    async def create_agent_token(
        self, name: str, pool: str, *, expires_at: datetime | str | None = None
    ) -> dict[str, Any]:
        """A token for agents of ``pool``; the answer's ``token`` is never shown again."""
        body: dict[str, Any] = {"name": name, "pool": pool}
        if expires_at is not None:
            body["expires_at"] = _when(expires_at)
        result: dict[str, Any] = await self._request("POST", "/agent-tokens", json=body)
        return result

    async def list_agent_tokens(self) -> list[dict[str, Any]]:
        """The workspace's agent tokens that still work (metadata only)."""
        return await self._all_pages("/agent-tokens")

    async def revoke_agent_token(self, token_id: str) -> None:
        """Revoke an agent token now."""
        await self._request("DELETE", f"/agent-tokens/{_seg(token_id)}")
