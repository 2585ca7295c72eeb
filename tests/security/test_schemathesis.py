"""Schemathesis against the OpenAPI schema of a real server: no generated request makes a 5xx.

Every operation of ``/api/v1/openapi.json`` gets schema-conforming (positive) and
schema-violating (negative) requests, signed as the first admin (the agent protocol with an
agent token). The run is bounded: a fixed number of examples per operation, no shrinking, and a
time budget. Schemathesis calls are blocking, so they run in a worker thread while the server
keeps serving in the test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from tests.security.conftest import (
    API,
    DEFAULT_WS,
    PASSWORD,
    add_member,
    bearer,
    create_agent_token,
    deployed,
    session_token,
    transform_spec,
)
from tests.support.server import LiveApp

from quantum_orchestrator.domain.auth import Role

EXAMPLES = 40  # per operation, generation mode and set of path parameters
BUDGET = 150.0  # seconds for the whole walk; later operations get fewer examples if it runs low
POOL = "fuzz"
WORKFLOW = "fuzz-flow"
# Path parameters that name something that exists, for a second pass that gets past the 404s.
# Ids of things a request could destroy (members, keys, runs, agents) stay generated.
KNOWN = {"workspace_id": DEFAULT_WS, "ref": WORKFLOW, "number": "1"}


@dataclass
class Credentials:
    """Who signs which operation."""

    admin: dict[str, str]
    agent: dict[str, str]
    # Logging out ends the session that sends it: that operation gets a session of its own.
    logout: dict[str, str]

    def for_path(self, path: str) -> dict[str, str]:
        if path.startswith(f"{API}/agent/"):
            return self.agent
        if path == f"{API}/auth/logout":
            return self.logout
        return self.admin


@dataclass
class Report:
    """What the walk did."""

    operations: list[str] = field(default_factory=list)
    calls: int = 0
    failures: list[str] = field(default_factory=list)


def _walk(strategy: Any, url: str, headers: dict[str, str], examples: int, report: Report) -> None:
    """Send ``examples`` generated cases; raise the first check that fails."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        report.calls += 1
        case.validate_response(response, checks=[not_a_server_error], headers=headers)

    check()


def _fuzz(url: str, credentials: Credentials) -> Report:
    schema = schemathesis.openapi.from_url(
        f"{url}{API}/openapi.json", headers=credentials.admin, timeout=30
    )
    report = Report()
    operations = [result.ok() for result in schema.get_all_operations()]
    started = time.monotonic()
    for index, operation in enumerate(operations):
        report.operations.append(operation.label)
        headers = credentials.for_path(operation.path)
        # Split what is left of the budget among the operations still to do.
        left = BUDGET - (time.monotonic() - started)
        share = left / (len(operations) - index) / BUDGET * len(operations)
        examples = max(2, min(EXAMPLES, int(EXAMPLES * share)))
        # Pin what would only make the run slow: the agents' long-poll wait.
        fixed: dict[str, Any] = {}
        if operation.path.endswith("/claim"):
            fixed["body"] = {"max": 1, "wait": 0}
        variants = [fixed]
        known = {name: value for name, value in KNOWN.items() if f"{{{name}}}" in operation.path}
        if known:
            variants.append({**fixed, "path_parameters": known})
        for variant, mode in itertools.product(
            variants, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ):
            strategy = operation.as_strategy(generation_mode=mode, **variant)
            try:
                _walk(strategy, url, headers, examples, report)
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (negative mode) as pinned.
                continue
            except (Exception, BaseExceptionGroup) as exc:
                # Schemathesis raises a group of the failed checks, with a curl to reproduce.
                pinned = " (known path)" if "path_parameters" in variant else ""
                report.failures.append(f"{operation.label} [{mode.value}]{pinned}: {exc}")
    return report


@pytest.mark.timeout(300)
async def test_no_generated_request_makes_a_server_error(
    server: LiveApp, http: httpx.AsyncClient
) -> None:
    # Something to find: a deployed workflow, a member, an agent of the fuzzing pool.
    await deployed(http, transform_spec(WORKFLOW))
    await add_member(http, "fuzz-logout@example.com", Role.VIEWER)
    token = (await create_agent_token(http, POOL))["token"]
    credentials = Credentials(
        admin=server.headers,
        agent=bearer(token),
        logout=bearer(await session_token(server.url, "fuzz-logout@example.com", PASSWORD)),
    )
    report = await asyncio.to_thread(_fuzz, server.url, credentials)
    assert not report.failures, "\n\n".join(report.failures)
    # Every operation was walked, and the admin is still the owner it was.
    paths = set(report.operations)
    assert len(paths) >= 40, report.operations
    assert report.calls >= 2 * len(paths)
    me = await http.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "owner"
    assert me.json()["workspace_id"] == DEFAULT_WS
