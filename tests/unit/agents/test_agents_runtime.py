"""AgentRuntime against an in-memory implementation of the agent protocol."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from typing import Any

import pytest

from quantum_orchestrator.agents import (
    Agent,
    AgentRuntime,
    AgentUnknownError,
    RuntimeOptions,
    StepContext,
    TransportError,
    build_runtime,
)
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.step_logs import StepLogger
from quantum_orchestrator.domain.agent_protocol import (
    CapabilityInfo,
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
    Task,
)
from quantum_orchestrator.domain.errors import StepError
from quantum_orchestrator.domain.step_logs import LogLine


class MemoryTransport:
    """The agent protocol held in memory: a task queue, result list and failure switches."""

    def __init__(self, *, heartbeat_interval: float = 0.05) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.registrations: list[Registration] = []
        self.known: set[str] = set()
        self.tasks: list[Task] = []
        self.task_added = asyncio.Event()
        self.results: list[Result] = []
        self.result_added = asyncio.Event()
        self.report_calls: list[int] = []
        self.claims: list[int] = []
        self.heartbeats: list[list[str]] = []
        self.to_cancel: set[str] = set()
        self.deregistered: list[str] = []
        self.fail_reports = 0
        self.forget_on_claim = False
        self.forget_on_report = False
        self.state = "online"
        self.max_output_bytes: int | None = None
        self.progress_sent: list[tuple[str, str, int, dict[str, Any]]] = []
        self.fail_progress = False
        self.logs_sent: list[tuple[str, int, list[LogLine]]] = []
        self.fail_logs = 0

    def add(self, task: Task) -> None:
        self.tasks.append(task)
        self.task_added.set()

    def _check(self, agent_id: str) -> None:
        if agent_id not in self.known:
            raise AgentUnknownError(f"agent {agent_id} unknown", status=404)

    async def register(self, registration: Registration) -> RegistrationAnswer:
        self.registrations.append(registration)
        agent_id = f"agent-{len(self.registrations)}"
        self.known.add(agent_id)
        answer = RegistrationAnswer(
            agent_id=agent_id, heartbeat_interval=self.heartbeat_interval, lease_seconds=30
        )
        if self.max_output_bytes is not None:
            answer["max_output_bytes"] = self.max_output_bytes
        return answer

    async def heartbeat(self, agent_id: str, running: list[str]) -> HeartbeatAnswer:
        self._check(agent_id)
        self.heartbeats.append(list(running))
        cancel = sorted(self.to_cancel & set(running))
        return HeartbeatAnswer(state=self.state, cancel=cancel)

    async def claim(self, agent_id: str, max_tasks: int, wait: float) -> list[Task]:
        if self.forget_on_claim:
            self.forget_on_claim = False
            self.known.discard(agent_id)
        self._check(agent_id)
        self.claims.append(max_tasks)
        if not self.tasks:
            self.task_added.clear()
            try:
                await asyncio.wait_for(self.task_added.wait(), timeout=wait)
            except TimeoutError:
                return []
        claimed, self.tasks = self.tasks[:max_tasks], self.tasks[max_tasks:]
        return claimed

    async def report(self, agent_id: str, results: list[Result]) -> ResultsAnswer:
        if self.forget_on_report:
            self.forget_on_report = False
            self.known.discard(agent_id)
        self._check(agent_id)
        if self.fail_reports:
            self.fail_reports -= 1
            raise TransportError("server unavailable", status=503)
        self.report_calls.append(len(results))
        self.results.extend(results)
        self.result_added.set()
        ids = [result["step_id"] for result in results]
        return ResultsAnswer(accepted=ids, rejected=[])

    async def progress(
        self, agent_id: str, step_id: str, attempt: int, data: dict[str, Any]
    ) -> None:
        self._check(agent_id)
        if self.fail_progress:
            raise TransportError("server unavailable", status=503)
        self.progress_sent.append((agent_id, step_id, attempt, data))

    async def logs(self, agent_id: str, step_id: str, attempt: int, lines: list[LogLine]) -> None:
        self._check(agent_id)
        if self.fail_logs:
            self.fail_logs -= 1
            raise TransportError("server unavailable", status=503)
        self.logs_sent.append((step_id, attempt, lines))

    async def deregister(self, agent_id: str) -> None:
        self._check(agent_id)
        self.known.discard(agent_id)
        self.deregistered.append(agent_id)

    async def aclose(self) -> None:
        return None

    async def wait_results(self, count: int, timeout: float = 10) -> dict[str, Result]:
        async with asyncio.timeout(timeout):
            while len(self.results) < count:
                self.result_added.clear()
                await self.result_added.wait()
        return {result["step_id"]: result for result in self.results}


def make_task(
    step_id: str, node_type: str = "test.echo", *, timeout: float = 10, **params: Any
) -> Task:
    return Task(
        step_id=step_id,
        run_id="run-1",
        node_id=f"node-{step_id}",
        node_type=node_type,
        attempt=1,
        params=params,
        timeout=timeout,
        idempotency_key=f"run-1:node-{step_id}",
        lease_expires_at="2030-01-01T00:00:00Z",
    )


FAST = RuntimeOptions(
    concurrency=2,
    claim_wait=0.2,
    drain_grace=5,
    backoff_initial=0.01,
    backoff_max=0.05,
    final_flush_timeout=5,
)


def make_runtime(
    transport: MemoryTransport, handlers: dict[str, Handler], options: RuntimeOptions = FAST
) -> AgentRuntime:
    capabilities = [CapabilityInfo(name=name, category="test") for name in handlers]
    return AgentRuntime(
        transport=transport,
        name="test-agent",
        pool="test",
        capabilities=capabilities,
        handlers=handlers,
        options=options,
    )


async def echo(params: dict[str, Any], ctx: StepContext) -> Any:
    return params


async def test_runs_a_task_and_reports_its_output() -> None:
    transport = MemoryTransport()
    async with make_runtime(transport, {"test.echo": echo}) as runtime:
        assert runtime.agent_id == "agent-1"
        transport.add(make_task("s1", value=(1, 2)))
        results = await transport.wait_results(1)
    assert results["s1"] == {
        "step_id": "s1",
        "attempt": 1,
        "status": "succeeded",
        "output": {"value": [1, 2]},
    }
    registration = transport.registrations[0]
    assert registration["pool"] == "test"
    assert registration["concurrency"] == 2
    assert transport.deregistered == ["agent-1"]


async def talkative(params: dict[str, Any], ctx: StepContext) -> Any:
    await ctx.progress({"delta": "half"})
    await ctx.progress({"delta": "way"})
    return "done"


async def test_progress_is_sent_for_the_attempt_and_never_fails_it() -> None:
    transport = MemoryTransport()
    async with make_runtime(transport, {"test.talk": talkative}):
        transport.add(make_task("s1", "test.talk"))
        results = await transport.wait_results(1)
    assert results["s1"]["status"] == "succeeded"
    assert transport.progress_sent == [
        ("agent-1", "s1", 1, {"delta": "half"}),
        ("agent-1", "s1", 1, {"delta": "way"}),
    ]
    # A server that refuses progress does not fail the step: it is logged and dropped.
    failing = MemoryTransport()
    failing.fail_progress = True
    async with make_runtime(failing, {"test.talk": talkative}):
        failing.add(make_task("s2", "test.talk"))
        results = await failing.wait_results(1)
    assert results["s2"]["status"] == "succeeded"
    assert results["s2"]["output"] == "done"


async def test_running_attempts_send_their_lines_and_the_rest_go_with_the_result() -> None:
    transport = MemoryTransport()
    # The first send fails: its lines go out with the next send, in order.
    transport.fail_logs = 1

    async def chatty(params: dict[str, Any], ctx: StepContext) -> str:
        ctx.logger.info("one")
        ctx.logger.warning("two")
        async with asyncio.timeout(5):
            while not transport.logs_sent:
                await asyncio.sleep(0.01)
        ctx.logger.error("three")
        return "done"

    options = dataclasses.replace(FAST, log_flush_interval=0.02)
    async with make_runtime(transport, {"test.chatty": chatty}, options):
        transport.add(make_task("s1", "test.chatty"))
        results = await transport.wait_results(1)
    ((step_id, attempt, sent),) = transport.logs_sent
    assert (step_id, attempt) == ("s1", 1)
    assert [(line["level"], line["message"]) for line in sent] == [
        ("info", "one"),
        ("warning", "two"),
    ]
    assert [(line["level"], line["message"]) for line in results["s1"]["logs"]] == [
        ("error", "three")
    ]
    assert results["s1"]["status"] == "succeeded"


def test_the_line_limit_counts_lines_already_sent() -> None:
    log = StepLogger(logging.getLogger("test"), {}, max_lines=3)
    log.info("a")
    log.info("b")
    assert [line["message"] for line in log.take()] == ["a", "b"]
    log.give_back([LogLine(at="t", level="info", message="b")])
    for text in ("c", "d", "e"):
        log.info(text)
    assert [line["message"] for line in log.drain()] == [
        "b",
        "c",
        "2 more log lines were dropped (the limit is 3)",
    ]
    assert log.drain() == []


async def test_claims_only_as_many_tasks_as_free_slots() -> None:
    transport = MemoryTransport()
    release = asyncio.Event()
    started: list[str] = []

    async def blocking(params: dict[str, Any], ctx: StepContext) -> str:
        started.append(ctx.step_id)
        await release.wait()
        return ctx.step_id

    for index in range(5):
        transport.add(make_task(f"s{index}", "test.block"))
    async with make_runtime(transport, {"test.block": blocking}) as runtime:
        async with asyncio.timeout(5):
            while len(started) < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert len(runtime.running_steps) == 2
        assert len(transport.tasks) == 3
        assert all(max_tasks <= 2 for max_tasks in transport.claims)
        release.set()
        results = await transport.wait_results(5)
    assert {r["status"] for r in results.values()} == {"succeeded"}
    assert all(max_tasks <= 2 for max_tasks in transport.claims)


async def test_timeout_reports_a_retryable_failure() -> None:
    transport = MemoryTransport()
    seen: list[StepContext] = []

    async def slow(params: dict[str, Any], ctx: StepContext) -> None:
        seen.append(ctx)
        await asyncio.sleep(30)

    async with make_runtime(transport, {"test.slow": slow}):
        transport.add(make_task("s1", "test.slow", timeout=0.1))
        results = await transport.wait_results(1)
    assert results["s1"]["status"] == "failed"
    assert results["s1"]["error"]["code"] == "timeout"
    assert results["s1"]["error"]["retryable"] is True
    assert seen[0].is_cancelled


async def test_handler_raising_timeout_error_itself_is_a_handler_error() -> None:
    transport = MemoryTransport()

    async def raises(params: dict[str, Any], ctx: StepContext) -> None:
        raise TimeoutError("upstream took too long")

    async with make_runtime(transport, {"test.raise": raises}):
        transport.add(make_task("s1", "test.raise"))
        results = await transport.wait_results(1)
    assert results["s1"]["error"]["code"] == "handler_error"


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ("x" * 2000, "output_too_large"),
        ({"bad": object()}, "invalid_output"),
        (float("nan"), "invalid_output"),
        ({"text": "a\x00b"}, "invalid_output"),
        ([{"a\x00": 1}], "invalid_output"),
        ("\ud800", "invalid_output"),
    ],
)
async def test_bad_outputs_are_non_retryable_failures(output: Any, code: str) -> None:
    transport = MemoryTransport()

    async def produce(params: dict[str, Any], ctx: StepContext) -> Any:
        return output

    options = RuntimeOptions(**{**FAST.__dict__, "max_output_bytes": 1000})
    async with make_runtime(transport, {"test.out": produce}, options):
        transport.add(make_task("s1", "test.out"))
        results = await transport.wait_results(1)
    assert results["s1"]["status"] == "failed"
    assert results["s1"]["error"]["code"] == code
    assert results["s1"]["error"]["retryable"] is False


async def test_the_servers_output_limit_applies() -> None:
    transport = MemoryTransport()
    transport.max_output_bytes = 100

    async def produce(params: dict[str, Any], ctx: StepContext) -> Any:
        return "x" * 200

    async with make_runtime(transport, {"test.out": produce}):
        transport.add(make_task("s1", "test.out"))
        results = await transport.wait_results(1)
    assert results["s1"]["error"]["code"] == "output_too_large"
    assert "the limit is 100" in results["s1"]["error"]["message"]


async def test_exceptions_are_mapped_to_error_info() -> None:
    transport = MemoryTransport()

    async def qo_error(params: dict[str, Any], ctx: StepContext) -> None:
        raise StepError("quota exceeded", code="quota", retryable=False)

    async def plain_error(params: dict[str, Any], ctx: StepContext) -> None:
        raise KeyError("missing")

    handlers: dict[str, Handler] = {"test.qo": qo_error, "test.plain": plain_error}
    async with make_runtime(transport, handlers):
        transport.add(make_task("s1", "test.qo"))
        transport.add(make_task("s2", "test.plain"))
        transport.add(make_task("s3", "test.unknown"))
        results = await transport.wait_results(3)
    assert results["s1"]["error"] == {
        "code": "quota",
        "message": "quota exceeded",
        "retryable": False,
    }
    assert results["s2"]["error"] == {
        "code": "handler_error",
        "message": "KeyError: 'missing'",
        "retryable": True,
    }
    assert results["s3"]["error"]["code"] == "unknown_node_type"


async def test_results_are_reported_in_batches() -> None:
    transport = MemoryTransport()
    options = RuntimeOptions(
        **{**FAST.__dict__, "concurrency": 20, "result_batch_size": 8, "result_flush_delay": 0.05}
    )
    for index in range(20):
        transport.add(make_task(f"s{index}"))
    async with make_runtime(transport, {"test.echo": echo}, options):
        await transport.wait_results(20)
    assert sum(transport.report_calls) == 20
    assert max(transport.report_calls) == 8
    assert len(transport.report_calls) < 20


async def test_heartbeat_sends_running_steps_and_cancels_on_request() -> None:
    transport = MemoryTransport(heartbeat_interval=0.02)
    seen: list[StepContext] = []

    async def forever(params: dict[str, Any], ctx: StepContext) -> None:
        seen.append(ctx)
        await asyncio.sleep(30)

    async with make_runtime(transport, {"test.forever": forever}) as runtime:
        transport.add(make_task("s1", "test.forever"))
        async with asyncio.timeout(5):
            while ["s1"] not in transport.heartbeats:
                await asyncio.sleep(0.01)
        transport.to_cancel.add("s1")
        results = await transport.wait_results(1)
        assert runtime.running_steps == []
    assert results["s1"]["error"]["code"] == "cancelled"
    assert seen[0].is_cancelled


async def test_drain_finishes_in_flight_work_then_deregisters() -> None:
    transport = MemoryTransport()
    started = asyncio.Event()

    async def slowish(params: dict[str, Any], ctx: StepContext) -> str:
        started.set()
        await asyncio.sleep(0.3)
        return "done"

    runtime = make_runtime(transport, {"test.slowish": slowish})
    runner = asyncio.create_task(runtime.run())
    transport.add(make_task("s1", "test.slowish"))
    await asyncio.wait_for(started.wait(), 5)
    await runtime.shutdown()
    await runner
    assert transport.results == [
        {"step_id": "s1", "attempt": 1, "status": "succeeded", "output": "done"}
    ]
    assert transport.deregistered == ["agent-1"]
    # Nothing more is claimed once the drain started.
    transport.add(make_task("s2", "test.slowish"))
    await asyncio.sleep(0.05)
    assert len(transport.tasks) == 1


async def test_a_drain_asked_by_the_server_finishes_work_then_leaves() -> None:
    transport = MemoryTransport(heartbeat_interval=0.02)
    started = asyncio.Event()

    async def slowish(params: dict[str, Any], ctx: StepContext) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "done"

    runtime = make_runtime(transport, {"test.slowish": slowish})
    runner = asyncio.create_task(runtime.run())
    transport.add(make_task("s1", "test.slowish"))
    await asyncio.wait_for(started.wait(), 5)
    transport.state = "draining"
    await asyncio.wait_for(runner, 10)
    assert transport.results[0]["status"] == "succeeded"
    assert transport.deregistered == ["agent-1"]


async def test_drain_cancels_what_outlives_the_grace_period() -> None:
    transport = MemoryTransport()
    started = asyncio.Event()

    async def stuck(params: dict[str, Any], ctx: StepContext) -> None:
        started.set()
        await asyncio.sleep(30)

    runtime = make_runtime(transport, {"test.stuck": stuck})
    runner = asyncio.create_task(runtime.run())
    transport.add(make_task("s1", "test.stuck"))
    await asyncio.wait_for(started.wait(), 5)
    await runtime.shutdown(grace=0.05)
    await runner
    assert transport.results[0]["error"] == {
        "code": "agent_shutdown",
        "message": "the agent shut down before the step finished",
        "retryable": True,
    }
    assert transport.deregistered == ["agent-1"]


async def test_results_survive_transport_errors() -> None:
    transport = MemoryTransport()
    transport.fail_reports = 3
    async with make_runtime(transport, {"test.echo": echo}):
        transport.add(make_task("s1", x=1))
        results = await transport.wait_results(1)
    assert results["s1"]["output"] == {"x": 1}
    assert transport.fail_reports == 0


async def test_reregisters_after_agent_unknown() -> None:
    transport = MemoryTransport()
    transport.forget_on_claim = True
    async with make_runtime(transport, {"test.echo": echo}) as runtime:
        transport.add(make_task("s1"))
        await transport.wait_results(1)
        assert runtime.agent_id == "agent-2"
    assert len(transport.registrations) == 2
    assert transport.deregistered == ["agent-2"]


async def test_results_are_reported_after_reregistering() -> None:
    transport = MemoryTransport()
    transport.forget_on_report = True
    async with make_runtime(transport, {"test.echo": echo}) as runtime:
        transport.add(make_task("s1"))
        results = await transport.wait_results(1)
        assert runtime.agent_id == "agent-2"
    assert results["s1"]["status"] == "succeeded"


async def test_non_retryable_registration_error_stops_run() -> None:
    class Refusing(MemoryTransport):
        async def register(self, registration: Registration) -> RegistrationAnswer:
            raise TransportError("bad token", code="unauthorized", retryable=False, status=401)

    runtime = make_runtime(Refusing(), {"test.echo": echo})
    with pytest.raises(TransportError, match="bad token"):
        await runtime.run()


async def test_retryable_registration_error_is_retried() -> None:
    class Flaky(MemoryTransport):
        failures = 2

        async def register(self, registration: Registration) -> RegistrationAnswer:
            if self.failures:
                self.failures -= 1
                raise TransportError("connection refused", code="network_error")
            return await super().register(registration)

    transport = Flaky()
    async with make_runtime(transport, {"test.echo": echo}) as runtime:
        assert runtime.agent_id == "agent-1"
    assert transport.failures == 0


async def test_sync_handler_runs_in_a_worker_thread() -> None:
    agent = Agent("test", concurrency=2)
    threads: list[str] = []

    @agent.capability("test.sync")
    def sync_handler(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"doubled": params["n"] * 2}

    transport = MemoryTransport()
    async with build_runtime([agent], transport=transport, options=FAST):
        transport.add(make_task("s1", "test.sync", n=21))
        results = await transport.wait_results(1)
    assert results["s1"]["output"] == {"doubled": 42}
    assert threads
    assert threads[0] != threading.main_thread().name


async def test_context_carries_identity_and_logger() -> None:
    transport = MemoryTransport()
    contexts: list[StepContext] = []

    async def capture(params: dict[str, Any], ctx: StepContext) -> None:
        contexts.append(ctx)
        ctx.logger.info("hello")

    async with make_runtime(transport, {"test.capture": capture}):
        transport.add(make_task("s7", "test.capture", timeout=3))
        await transport.wait_results(1)
    ctx = contexts[0]
    assert (ctx.run_id, ctx.step_id, ctx.node_id, ctx.attempt) == ("run-1", "s7", "node-s7", 1)
    assert ctx.idempotency_key == "run-1:node-s7"
    assert ctx.timeout == 3
    assert ctx.logger.extra == {"run_id": "run-1", "step_id": "s7", "node_id": "node-s7"}


def test_constructor_validation() -> None:
    transport = MemoryTransport()
    with pytest.raises(ValueError, match="no handler"):
        AgentRuntime(
            transport=transport,
            name="a",
            pool="p",
            capabilities=[CapabilityInfo(name="test.x", category="test")],
            handlers={},
        )
    with pytest.raises(ValueError, match="concurrency"):
        RuntimeOptions(concurrency=0)


async def test_run_twice_is_refused() -> None:
    runtime = make_runtime(MemoryTransport(), {"test.echo": echo})
    async with runtime:
        pass
    with pytest.raises(RuntimeError, match="runs once"):
        await runtime.run()


async def test_error_messages_are_made_storable() -> None:
    transport = MemoryTransport()

    async def raises(params: dict[str, Any], ctx: StepContext) -> Any:
        raise ValueError("bad\x00byte and \ud800 surrogate")

    async with make_runtime(transport, {"test.raise": raises}):
        transport.add(make_task("s1", "test.raise"))
        results = await transport.wait_results(1)
    message = results["s1"]["error"]["message"]
    assert "\x00" not in message
    assert "bad\\0byte" in message
    message.encode("utf-8")
