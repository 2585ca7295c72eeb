"""The account side of the fake server: logins, workspaces, members, API keys, agent tokens.

Realistic enough for the SDK and CLI tests: sessions are bearer tokens that logout revokes,
``X-QO-Workspace`` (or the path) picks the workspace, keys and tokens are answered once, and
errors are RFC 9457 problems like the real server's. It keeps everything in memory.
"""

from __future__ import annotations

import itertools
from typing import Any

from fake_problems import problem
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
DEFAULT_WORKSPACE = "ws_default"
ROLES = ("owner", "admin", "editor", "operator", "viewer")
CREATED = "2024-05-01T12:00:00+00:00"


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    """Pages of one item, so clients must follow ``next_cursor`` to see every row."""
    start = int(request.query_params.get("cursor") or 0)
    more = start + 1 < len(items)
    return JSONResponse(
        {"items": items[start : start + 1], "next_cursor": str(start + 1) if more else None}
    )


class FakeAccounts:
    """Users, sessions, workspaces, memberships, API keys and agent tokens in memory."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.users: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, str] = {}
        self.revoked: list[str] = []
        self.workspaces: dict[str, dict[str, Any]] = {
            DEFAULT_WORKSPACE: {
                "id": DEFAULT_WORKSPACE,
                "slug": "default",
                "name": "Default",
                "http_allow": [],
                "created_at": CREATED,
            }
        }
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}
        self.agent_tokens: dict[str, dict[str, Any]] = {}
        admin = self.add_user(ADMIN_EMAIL, ADMIN_PASSWORD, name="Administrator")
        self.members[(DEFAULT_WORKSPACE, admin["id"])] = {"role": "owner", "created_at": CREATED}

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def add_user(self, email: str, password: str, *, name: str = "") -> dict[str, Any]:
        """A new account."""
        user = {"id": self._id("usr"), "email": email.lower(), "name": name, "password": password}
        self.users[user["email"]] = user
        return user

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is a live session, API key or agent token here."""
        return (
            token in self.sessions
            or any(k["_key"] == token for k in self.api_keys.values())
            or any(t["_token"] == token for t in self.agent_tokens.values())
        )

    def routes(self) -> list[Route]:
        """The account routes of ``/api/v1``."""
        base = "/api/v1"
        return [
            Route(f"{base}/auth/token", self.token, methods=["POST"]),
            Route(f"{base}/auth/logout", self.logout, methods=["POST"]),
            Route(f"{base}/auth/me", self.me, methods=["GET"]),
            Route(f"{base}/workspaces", self.list_workspaces, methods=["GET"]),
            Route(f"{base}/workspaces", self.create_workspace, methods=["POST"]),
            Route(f"{base}/workspaces/{{ws}}/members", self.list_members, methods=["GET"]),
            Route(f"{base}/workspaces/{{ws}}/members", self.add_member, methods=["POST"]),
            Route(f"{base}/workspaces/{{ws}}/members/{{uid}}", self.set_role, methods=["PUT"]),
            Route(
                f"{base}/workspaces/{{ws}}/members/{{uid}}", self.remove_member, methods=["DELETE"]
            ),
            Route(f"{base}/api-keys", self.create_api_key, methods=["POST"]),
            Route(f"{base}/api-keys", self.list_api_keys, methods=["GET"]),
            Route(f"{base}/api-keys/{{id}}/rotate", self.rotate_api_key, methods=["POST"]),
            Route(f"{base}/api-keys/{{id}}", self.revoke_api_key, methods=["DELETE"]),
            Route(f"{base}/agent-tokens", self.create_agent_token, methods=["POST"]),
            Route(f"{base}/agent-tokens", self.list_agent_tokens, methods=["GET"]),
            Route(f"{base}/agent-tokens/{{id}}", self.revoke_agent_token, methods=["DELETE"]),
            Route(f"{base}/agent/register", self.register_agent, methods=["POST"]),
        ]

    # Who is calling

    def _bearer(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else ""

    def _caller(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        """The signed-in user, or the problem to answer."""
        token = self._bearer(request)
        if any(k["_key"] == token for k in self.api_keys.values()):
            return None, problem(403, "forbidden", "only a signed-in user may do this, not a key")
        user_id = self.sessions.get(token)
        user = next((u for u in self.users.values() if u["id"] == user_id), None)
        if user is None:
            return None, problem(401, "unauthenticated", "authentication required: log in")
        return user, None

    def _workspace(
        self, request: Request, user: dict[str, Any], ref: str | None = None
    ) -> tuple[str | None, Response | None]:
        """The workspace the request acts in (path, header, else the first) and a problem."""
        wanted = ref or request.headers.get("x-qo-workspace")
        mine = [ws for (ws, uid) in self.members if uid == user["id"]]
        if wanted is None:
            return (mine[0] if mine else None), None
        for ws in mine:
            if wanted in (ws, self.workspaces[ws]["slug"]):
                return ws, None
        return None, problem(404, "not_found", f"workspace {wanted!r} not found")

    def _role(self, ws: str, user: dict[str, Any]) -> str:
        return str(self.members[(ws, user["id"])]["role"])

    # Sessions

    async def token(self, request: Request) -> Response:
        body = await request.json()
        user = self.users.get(str(body.get("email", "")).lower())
        if user is None or user["password"] != body.get("password"):
            return problem(401, "unauthenticated", "wrong e-mail or password")
        token = f"qo_s_fake{next(self._ids)}"
        self.sessions[token] = user["id"]
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": 3600})

    async def logout(self, request: Request) -> Response:
        _, refused = self._caller(request)
        if refused is not None:
            return refused
        token = self._bearer(request)
        self.sessions.pop(token, None)
        self.revoked.append(token)
        return Response(status_code=204)

    async def me(self, request: Request) -> Response:
        user, refused = self._caller(request)
        if refused is not None:
            return refused
        assert user is not None
        ws, refused = self._workspace(request, user)
        if refused is not None:
            return refused
        return JSONResponse(
            {
                "user": {"id": user["id"], "email": user["email"]},
                "workspace_id": ws,
                "role": self._role(ws, user) if ws else None,
                "workspaces": self._workspaces_of(user),
            }
        )

    # Workspaces and members

    def _workspaces_of(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {**self.workspaces[ws], "role": m["role"]}
            for (ws, uid), m in self.members.items()
            if uid == user["id"]
        ]

    async def list_workspaces(self, request: Request) -> Response:
        user, refused = self._caller(request)
        if refused is not None:
            return refused
        assert user is not None
        return _page(request, self._workspaces_of(user))

    async def create_workspace(self, request: Request) -> Response:
        user, refused = self._caller(request)
        if refused is not None:
            return refused
        assert user is not None
        name = str((await request.json())["name"])
        row = {
            "id": self._id("ws"),
            "slug": name.lower().replace(" ", "-"),
            "name": name,
            "http_allow": [],
            "created_at": CREATED,
        }
        self.workspaces[row["id"]] = row
        self.members[(row["id"], user["id"])] = {"role": "owner", "created_at": CREATED}
        return JSONResponse({**row, "role": "owner"}, status_code=201)

    def _member_out(self, ws: str, user: dict[str, Any]) -> dict[str, Any]:
        member = self.members[(ws, user["id"])]
        return {
            "user_id": user["id"],
            "email": user["email"],
            "name": user["name"],
            "role": member["role"],
            "created_at": member["created_at"],
        }

    async def _members_call(
        self, request: Request, *, write: bool
    ) -> tuple[str, dict[str, Any], Response | None]:
        user, refused = self._caller(request)
        if refused is not None:
            return "", {}, refused
        assert user is not None
        ws, refused = self._workspace(request, user, request.path_params["ws"])
        if refused is not None or ws is None:
            return "", {}, refused
        if write and self._role(ws, user) not in ("owner", "admin"):
            refusal = problem(
                403,
                "forbidden",
                f"your role {self._role(ws, user)} may not do this (it needs members:write)",
            )
            return ws, user, refusal
        return ws, user, None

    async def list_members(self, request: Request) -> Response:
        ws, _, refused = await self._members_call(request, write=False)
        if refused is not None:
            return refused
        users = {u["id"]: u for u in self.users.values()}
        items = [self._member_out(ws, users[uid]) for (w, uid) in self.members if w == ws]
        return _page(request, items)

    async def add_member(self, request: Request) -> Response:
        ws, _, refused = await self._members_call(request, write=True)
        if refused is not None:
            return refused
        body = await request.json()
        if body.get("role") not in ROLES:
            return problem(422, "invalid_input", "role: not a role")
        user = self.users.get(str(body["email"]).lower())
        if user is None:
            if body.get("password") is None:
                return problem(
                    404,
                    "not_found",
                    f"no user has the e-mail {body['email']!r}: send a password to create "
                    "the account",
                )
            user = self.add_user(body["email"], body["password"], name=body.get("name", ""))
        if (ws, user["id"]) in self.members:
            return problem(409, "conflict", f"{user['email']} is already a member")
        self.members[(ws, user["id"])] = {"role": body["role"], "created_at": CREATED}
        return JSONResponse(self._member_out(ws, user), status_code=201)

    def _member_user(self, ws: str, uid: str) -> dict[str, Any] | None:
        if (ws, uid) not in self.members:
            return None
        return next(u for u in self.users.values() if u["id"] == uid)

    async def set_role(self, request: Request) -> Response:
        ws, _, refused = await self._members_call(request, write=True)
        if refused is not None:
            return refused
        target = self._member_user(ws, request.path_params["uid"])
        if target is None:
            return problem(404, "not_found", "not a member of this workspace")
        self.members[(ws, target["id"])]["role"] = (await request.json())["role"]
        return JSONResponse(self._member_out(ws, target))

    async def remove_member(self, request: Request) -> Response:
        ws, _, refused = await self._members_call(request, write=True)
        if refused is not None:
            return refused
        if self._member_user(ws, request.path_params["uid"]) is None:
            return problem(404, "not_found", "not a member of this workspace")
        del self.members[(ws, request.path_params["uid"])]
        return Response(status_code=204)

    # API keys and agent tokens

    def _public(self, row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if not k.startswith("_")}

    async def _keys_call(self, request: Request) -> tuple[str, dict[str, Any], Response | None]:
        user, refused = self._caller(request)
        if refused is not None:
            return "", {}, refused
        assert user is not None
        ws, refused = self._workspace(request, user)
        if refused is not None or ws is None:
            return "", {}, refused or problem(403, "forbidden", "not a member of any workspace")
        if self._role(ws, user) not in ("owner", "admin"):
            return ws, user, problem(403, "forbidden", "your role may not do this (keys:write)")
        return ws, user, None

    def _issue(self, ws: str, user: dict[str, Any], body: dict[str, Any], kind: str) -> Any:
        secret = f"qo_{'k' if kind == 'key' else 'a'}_fake{next(self._ids)}secret"
        row: dict[str, Any] = {
            "id": self._id(kind),
            "name": body["name"],
            "prefix": secret[:12],
            "workspace_id": ws,
            "created_by": user["id"],
            "created_at": CREATED,
            "expires_at": body.get("expires_at"),
            "last_used_at": None,
        }
        return row, secret

    async def create_api_key(self, request: Request) -> Response:
        ws, user, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        body = await request.json()
        row, key = self._issue(ws, user, body, "key")
        row["role"] = body["role"]
        self.api_keys[row["id"]] = {**row, "_key": key, "_body": body}
        return JSONResponse({**row, "key": key}, status_code=201)

    async def list_api_keys(self, request: Request) -> Response:
        ws, _, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        items = [self._public(k) for k in self.api_keys.values() if k["workspace_id"] == ws]
        return _page(request, items)

    async def rotate_api_key(self, request: Request) -> Response:
        ws, user, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        old = self.api_keys.get(request.path_params["id"])
        if old is None:
            return problem(404, "not_found", f"API key {request.path_params['id']!r} not found")
        body = await request.json()
        row, key = self._issue(ws, user, {"name": old["name"]}, "key")
        row["role"] = old["role"]
        old["_grace_hours"] = body.get("grace_hours")
        self.api_keys[row["id"]] = {**row, "_key": key, "_body": body}
        return JSONResponse({**row, "key": key}, status_code=201)

    async def revoke_api_key(self, request: Request) -> Response:
        _, _, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        if self.api_keys.pop(request.path_params["id"], None) is None:
            return problem(404, "not_found", f"API key {request.path_params['id']!r} not found")
        return Response(status_code=204)

    async def create_agent_token(self, request: Request) -> Response:
        ws, user, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        body = await request.json()
        row, token = self._issue(ws, user, body, "agt")
        row["pool"] = body["pool"]
        self.agent_tokens[row["id"]] = {**row, "_token": token}
        return JSONResponse({**row, "token": token}, status_code=201)

    async def list_agent_tokens(self, request: Request) -> Response:
        ws, _, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        items = [self._public(t) for t in self.agent_tokens.values() if t["workspace_id"] == ws]
        return _page(request, items)

    async def revoke_agent_token(self, request: Request) -> Response:
        _, _, refused = await self._keys_call(request)
        if refused is not None:
            return refused
        if self.agent_tokens.pop(request.path_params["id"], None) is None:
            return problem(404, "not_found", "agent token not found")
        return Response(status_code=204)

    # The agent protocol's door: only its refusals (the tests of `qo agent` stop there).

    async def register_agent(self, request: Request) -> Response:
        token = self._bearer(request)
        pool = (await request.json()).get("pool")
        owner = next((t for t in self.agent_tokens.values() if t["_token"] == token), None)
        if owner is not None:
            if owner["pool"] != pool:
                return problem(
                    403,
                    "forbidden",
                    f"this agent token is for the pool {owner['pool']!r}, not {pool!r}",
                )
            return problem(409, "conflict", "the fake does not run agents")
        if token in self.sessions or any(k["_key"] == token for k in self.api_keys.values()):
            return problem(403, "forbidden", "your role owner may not do this (agent:protocol)")
        return problem(401, "unauthenticated", "the agent token is not valid")
