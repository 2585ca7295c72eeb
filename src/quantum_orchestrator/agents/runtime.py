"""The agent run loop: register, claim work for free slots, run handlers, report results.

Three loops run side by side once the agent is registered: heartbeats (which extend the leases of
running steps and bring back the steps to cancel), claims (long-polls for as many tasks as there
are free slots) and a result flusher (batches results and retries until the server has them).
Shutdown drains: claiming stops, running steps get a grace period, results are flushed, and the
agent deregisters.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.errors import AgentUnknownError, TransportError
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.options import Backoff, RuntimeOptions
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.agents.step_logs import StepLogger
from quantum_orchestrator.agents.transport import AgentTransport
from quantum_orchestrator.domain.agent_protocol import (
    MAX_RETRY_AFTER,
    CapabilityInfo,
    ErrorInfo,
    Registration,
    Result,
    Task,
)
from quantum_orchestrator.domain.errors import OutputTooLargeError, QOError, StepTimeoutError
from quantum_orchestrator.domain.secrets import redact, redact_text
from quantum_orchestrator.observability.logging import secret_values

logger = logging.getLogger("quantum_orchestrator.agents")

_MAX_MESSAGE_CHARS = 2000
# A server that answers an empty claim much sooner than ``wait`` does not long-poll; pausing
# keeps the claim loop from spinning against it.
_MIN_EMPTY_CLAIM_PERIOD = 0.05
# Cancelled handlers get this long to unwind before the drain stops waiting for them.
_CANCEL_UNWIND_SECONDS = 5.0


@dataclass(kw_only=True)
class _Attempt:
    """One running attempt: what was claimed, its context, its asyncio task."""

    task: Task
    ctx: StepContext
    runner: asyncio.Task[Result]
    log: StepLogger
    cancel_reason: ErrorInfo | None = None
    secrets: list[str] = field(default_factory=list)


def _error(
    code: str,
    message: str,
    *,
    retryable: bool,
    redact: Sequence[str] = (),
    retry_after: float | None = None,
) -> ErrorInfo:
    # Redacted before it is cut: a secret cut in two would no longer be recognised.
    message = redact_text(message, redact)
    # NUL and lone surrogates cannot be stored; the server would refuse the whole report.
    message = message.replace("\x00", "\\0").encode("utf-8", "replace").decode("utf-8")
    code = code.replace("\x00", "")
    info = ErrorInfo(code=code, message=message[:_MAX_MESSAGE_CHARS], retryable=retryable)
    if retry_after is not None and math.isfinite(retry_after):
        # Within the bounds the server accepts, or it would refuse the whole report.
        info["retry_after"] = min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
    return info


def _secrets_of(task: Task) -> list[str]:
    """The secret values the server bound into the task's params."""
    return [value for value in task.get("redact") or [] if isinstance(value, str) and value]


def _failed(task: Task, error: ErrorInfo) -> Result:
    return Result(step_id=task["step_id"], attempt=task["attempt"], status="failed", error=error)


def error_info(exc: BaseException, *, redact: Sequence[str] = ()) -> ErrorInfo:
    """How a handler's exception is reported: ``QOError`` keeps its code, the rest is retryable.

    The values in ``redact`` (the step's secrets) are replaced by ``***`` in the message.
    """
    if isinstance(exc, QOError):
        return _error(
            exc.code,
            exc.message,
            retryable=exc.retryable,
            redact=redact,
            retry_after=exc.retry_after,
        )
    return _error("handler_error", f"{type(exc).__name__}: {exc}", retryable=True, redact=redact)


class AgentRuntime:
    """Runs one agent: registration, heartbeats, claims, handlers and result reports.

    The runtime owns ``resources`` (closed when it stops) but not ``transport``: whoever made
    the transport closes it. ``run()`` can be called once; use :meth:`shutdown` (or
    :meth:`request_shutdown` from a signal handler) to drain and stop, or ``async with``.
    """

    def __init__(
        self,
        *,
        transport: AgentTransport,
        name: str,
        pool: str,
        capabilities: Sequence[CapabilityInfo],
        handlers: Mapping[str, Handler],
        options: RuntimeOptions | None = None,
        resources: NodeResources | None = None,
        version: str = __version__,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        names = [capability["name"] for capability in capabilities]
        if len(set(names)) != len(names):
            raise ValueError("capability names must be unique")
        missing = sorted(set(names) - set(handlers))
        if missing:
            raise ValueError(f"no handler for capabilities: {', '.join(missing)}")
        self._transport = transport
        self._handlers = {name: handlers[name] for name in names}
        self._options = options or RuntimeOptions()
        self._resources = resources
        self._registration = Registration(
            name=name,
            pool=pool,
            capabilities=list(capabilities),
            concurrency=self._options.concurrency,
            version=version,
            host=host if host is not None else socket.gethostname(),
            pid=pid if pid is not None else os.getpid(),
        )
        self._grace = self._options.drain_grace
        self._agent_id: str | None = None
        self._heartbeat_interval = 10.0
        self._max_output_bytes = self._options.max_output_bytes
        self._inflight: dict[str, _Attempt] = {}
        self._results: list[Result] = []
        self._results_ready = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._grace_changed = asyncio.Event()
        self._registered = asyncio.Event()
        self._done = asyncio.Event()
        self._register_lock = asyncio.Lock()
        self._reregister_backoff = Backoff(self._options)
        self._flush_closing = False
        self._started = False
        self._run_task: asyncio.Task[None] | None = None

    # -- public surface ---------------------------------------------------------------------

    @property
    def registration(self) -> Registration:
        """What the runtime announces to the server."""
        return self._registration

    @property
    def options(self) -> RuntimeOptions:
        """The runtime's tuning."""
        return self._options

    @property
    def agent_id(self) -> str | None:
        """The id the server gave at the latest registration (``None`` before)."""
        return self._agent_id

    @property
    def running_steps(self) -> list[str]:
        """The step ids of the attempts running now."""
        return list(self._inflight)

    @property
    def pending_results(self) -> int:
        """How many results wait to be reported."""
        return len(self._results)

    @property
    def stopping(self) -> bool:
        """True once a shutdown was requested."""
        return self._stop_requested.is_set()

    async def run(self) -> None:
        """Register, then serve until a shutdown is requested and the drain is over.

        Raises the registration's error when it is not retryable (a rejected token, say).
        """
        if self._started:
            raise RuntimeError("an AgentRuntime runs once")
        self._started = True
        try:
            if await self._register(first=True):
                self._registered.set()
                await self._serve()
        finally:
            self._stop_requested.set()
            await self._close()
            self._done.set()

    def request_shutdown(self, grace: float | None = None) -> None:
        """Ask for a drain without waiting for it; safe to call from a signal handler.

        A later call with a smaller ``grace`` shortens a drain already under way.
        """
        if grace is not None:
            self._grace = max(0.0, grace)
            self._grace_changed.set()
        self._stop_requested.set()

    async def shutdown(self, grace: float | None = None) -> None:
        """Drain and stop: running attempts get ``grace`` seconds (default from the options).

        Do not await this from inside a handler: the drain waits for that handler.
        """
        self.request_shutdown(grace)
        if self._started:
            await self._done.wait()
        else:
            await self._close()

    async def __aenter__(self) -> AgentRuntime:
        """Start :meth:`run` in the background and return once the agent is registered."""
        self._run_task = asyncio.create_task(self.run(), name="qo-agent-runtime")
        registered = asyncio.create_task(self._registered.wait())
        await asyncio.wait({self._run_task, registered}, return_when=asyncio.FIRST_COMPLETED)
        registered.cancel()
        if self._run_task.done():
            self._run_task.result()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Drain and stop."""
        await self.shutdown()
        if self._run_task is not None:
            await self._run_task

    # -- lifecycle --------------------------------------------------------------------------

    async def _register(self, *, first: bool = False) -> bool:
        """Register until it works; False when a shutdown came first."""
        backoff = Backoff(self._options)
        while True:
            try:
                answer = await self._transport.register(self._registration)
            except QOError as exc:
                if first and not exc.retryable:
                    raise
                logger.warning("agent registration failed: %s", exc)
            except Exception as exc:  # noqa: BLE001 - any transport failure is retried
                logger.warning("agent registration failed: %s: %s", type(exc).__name__, exc)
            else:
                self._agent_id = answer["agent_id"]
                self._heartbeat_interval = max(0.01, float(answer["heartbeat_interval"]))
                # The server's limit wins: it refuses larger outputs anyway, and this way the
                # agent says so itself, with the size, before sending them.
                self._max_output_bytes = int(
                    answer.get("max_output_bytes") or self._options.max_output_bytes
                )
                logger.info(
                    "agent %s registered as %s (pool %s, %d capabilities)",
                    self._registration["name"],
                    self._agent_id,
                    self._registration["pool"],
                    len(self._handlers),
                )
                return True
            if self._stop_requested.is_set() or not await self._sleep_unless_stopped(
                backoff.next_delay()
            ):
                return False

    async def _reregister(self, stale_id: str | None) -> None:
        """Register again after the server forgot ``stale_id``; concurrent callers share one."""
        async with self._register_lock:
            if self._agent_id != stale_id:
                return
            logger.warning("server does not know agent %s; registering again", stale_id)
            if await self._register():
                self._reregister_backoff.reset()
            else:
                # During a drain a failed registration is not retried inside ``_register``;
                # pausing here keeps the callers' loops from hammering the server.
                await asyncio.sleep(self._reregister_backoff.next_delay())

    async def _sleep_unless_stopped(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; False if a shutdown was requested meanwhile."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the event fires, and the drain's cancel of this loop would be lost.
        try:
            async with asyncio.timeout(delay):
                await self._stop_requested.wait()
        except TimeoutError:
            return True
        return False

    async def _serve(self) -> None:
        loops = {
            asyncio.create_task(self._heartbeat_loop(), name="qo-agent-heartbeat"),
            asyncio.create_task(self._claim_loop(), name="qo-agent-claim"),
            asyncio.create_task(self._flush_loop(), name="qo-agent-results"),
            asyncio.create_task(self._logs_loop(), name="qo-agent-logs"),
        }
        stop = asyncio.create_task(self._stop_requested.wait())
        crashed: BaseException | None = None
        try:
            done, _ = await asyncio.wait(loops | {stop}, return_when=asyncio.FIRST_COMPLETED)
            for loop_task in done - {stop}:
                # The loops only end when cancelled; one that returned or raised is a bug.
                crashed = loop_task.exception() or RuntimeError(f"{loop_task.get_name()} ended")
                logger.error("agent loop %s stopped unexpectedly", loop_task.get_name())
            await self._drain({t.get_name(): t for t in loops})
        finally:
            stop.cancel()
            for loop_task in loops:
                loop_task.cancel()
            for attempt in list(self._inflight.values()):
                attempt.runner.cancel()
            pending = [*loops, *(a.runner for a in self._inflight.values())]
            await asyncio.gather(*pending, return_exceptions=True)
        if crashed is not None:
            raise crashed

    async def _drain(self, loops: dict[str, asyncio.Task[None]]) -> None:
        logger.info("agent %s draining (%d running)", self._agent_id, len(self._inflight))
        claimer = loops["qo-agent-claim"]
        claimer.cancel()
        await asyncio.gather(claimer, return_exceptions=True)
        await self._wait_for_inflight()
        heartbeat, sender = loops["qo-agent-heartbeat"], loops["qo-agent-logs"]
        heartbeat.cancel()
        sender.cancel()
        await asyncio.gather(heartbeat, sender, return_exceptions=True)
        self._flush_closing = True
        self._results_ready.set()
        flusher = loops["qo-agent-results"]
        try:
            await asyncio.wait_for(flusher, timeout=self._options.final_flush_timeout)
        except TimeoutError:
            logger.error("agent stopped with %d results the server never got", len(self._results))
        except Exception:
            logger.exception("result flusher failed during shutdown")
        await self._deregister()

    async def _wait_for_inflight(self) -> None:
        """Let running attempts finish within the grace period, then cancel the rest."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while self._inflight:
            remaining = started + self._grace - loop.time()
            if remaining <= 0:
                break
            self._grace_changed.clear()
            grace_changed = asyncio.create_task(self._grace_changed.wait())
            runners = {attempt.runner for attempt in self._inflight.values()}
            await asyncio.wait(
                runners | {grace_changed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            grace_changed.cancel()
        leftovers = list(self._inflight.values())
        if not leftovers:
            return
        logger.warning(
            "cancelling %d attempts still running after the grace period", len(leftovers)
        )
        for attempt in leftovers:
            self._cancel_attempt(
                attempt,
                _error(
                    "agent_shutdown", "the agent shut down before the step finished", retryable=True
                ),
            )
        await asyncio.wait({a.runner for a in leftovers}, timeout=_CANCEL_UNWIND_SECONDS)

    async def _deregister(self) -> None:
        if self._agent_id is None:
            return
        try:
            await self._transport.deregister(self._agent_id)
        except AgentUnknownError:
            pass
        except Exception as exc:  # noqa: BLE001 - the server marks a silent agent lost anyway
            logger.warning("deregistration failed: %s: %s", type(exc).__name__, exc)
        else:
            logger.info("agent %s deregistered", self._agent_id)

    async def _close(self) -> None:
        if self._resources is not None and not self._resources.closed:
            await self._resources.aclose()

    # -- loops ------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            agent_id = self._agent_id
            assert agent_id is not None  # noqa: S101 - loops start after registration
            try:
                answer = await self._transport.heartbeat(agent_id, self.running_steps)
            except AgentUnknownError:
                await self._reregister(agent_id)
                continue
            except Exception as exc:  # noqa: BLE001 - a missed heartbeat is retried next period
                logger.warning("heartbeat failed: %s: %s", type(exc).__name__, exc)
                continue
            if answer.get("state") == "draining" and not self.stopping:
                # An operator drained this agent on the server: finish what it holds, then
                # leave, as on SIGTERM.
                logger.info("agent %s drained by the server", agent_id)
                self.request_shutdown()
            for step_id in answer.get("cancel", []):
                attempt = self._inflight.get(step_id)
                if attempt is not None:
                    attempt.ctx.logger.info("step cancelled by the server")
                    self._cancel_attempt(
                        attempt, _error("cancelled", "cancelled by the server", retryable=False)
                    )

    async def _logs_loop(self) -> None:
        """Send what running attempts logged, every ``log_flush_interval``: the step panel
        shows a long step's lines while it runs. Best effort: a failed send is retried with
        the next lines (or goes with the result); the step never fails for it."""
        while True:
            await asyncio.sleep(self._options.log_flush_interval)
            agent_id = self._agent_id
            if agent_id is None:
                continue
            for attempt in list(self._inflight.values()):
                if attempt.runner.done() or not attempt.log.pending:
                    continue
                lines = attempt.log.take()
                task = attempt.task
                try:
                    await self._transport.logs(agent_id, task["step_id"], task["attempt"], lines)
                except TransportError as exc:
                    if exc.retryable and not attempt.runner.done():
                        attempt.log.give_back(lines)
                    else:
                        logger.debug("log lines dropped: %s", exc.message)
                except Exception as exc:  # noqa: BLE001 - logs never stop the agent
                    logger.debug("log lines dropped: %s: %s", type(exc).__name__, exc)

    async def _claim_loop(self) -> None:
        backoff = Backoff(self._options)
        loop = asyncio.get_running_loop()
        while True:
            free = self._options.concurrency - len(self._inflight)
            if free <= 0:
                # Attempts only finish at await points, so nothing can slip in between the
                # count above and this wait.
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            agent_id = self._agent_id
            assert agent_id is not None  # noqa: S101 - loops start after registration
            asked_at = loop.time()
            try:
                tasks = await self._transport.claim(agent_id, free, self._options.claim_wait)
            except AgentUnknownError:
                await self._reregister(agent_id)
                continue
            except Exception as exc:  # noqa: BLE001 - keep claiming once the server is back
                delay = backoff.next_delay()
                logger.warning(
                    "claim failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay
                )
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            if len(tasks) > free:
                logger.warning("server handed %d tasks for %d free slots", len(tasks), free)
            for task in tasks:
                self._start(task)
            if not tasks and loop.time() - asked_at < _MIN_EMPTY_CLAIM_PERIOD:
                await asyncio.sleep(min(self._options.claim_wait, _MIN_EMPTY_CLAIM_PERIOD))

    async def _flush_loop(self) -> None:
        backoff = Backoff(self._options)
        batch_size = self._options.result_batch_size
        while True:
            if not self._results:
                if self._flush_closing:
                    return
                self._results_ready.clear()
                await self._results_ready.wait()
                continue
            if len(self._results) < batch_size and self._inflight and not self._flush_closing:
                # Other attempts are still running: wait a moment so their results share
                # this request. With nothing running, waiting would only add latency.
                await asyncio.sleep(self._options.result_flush_delay)
            # Results leave the buffer only once the server has them: a failure (or a
            # cancellation mid-call) keeps them for the next try.
            batch = self._results[:batch_size]
            agent_id = self._agent_id
            assert agent_id is not None  # noqa: S101 - loops start after registration
            try:
                answer = await self._transport.report(agent_id, batch)
            except AgentUnknownError:
                await self._reregister(agent_id)
                continue
            except Exception as exc:  # noqa: BLE001 - results are kept and retried
                delay = backoff.next_delay()
                logger.warning(
                    "reporting %d results failed (%s: %s); retrying in %.1fs",
                    len(batch),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            del self._results[: len(batch)]
            backoff.reset()
            if answer.get("rejected"):
                logger.info("server refused results of steps %s", answer["rejected"])

    # -- attempts ---------------------------------------------------------------------------

    def _start(self, task: Task) -> None:
        step_id = task["step_id"]
        previous = self._inflight.get(step_id)
        if previous is not None:
            # The server handed the step out again, so the earlier attempt lost its lease.
            self._cancel_attempt(
                previous,
                _error("superseded", "a newer attempt of the step started", retryable=True),
            )
        extra = {"run_id": task["run_id"], "step_id": step_id, "node_id": task["node_id"]}
        secrets = _secrets_of(task)
        step_logger = StepLogger(logger, extra, secrets=secrets)
        ctx = StepContext(
            run_id=task["run_id"],
            step_id=step_id,
            node_id=task["node_id"],
            node_type=task["node_type"],
            attempt=task["attempt"],
            idempotency_key=task["idempotency_key"],
            timeout=float(task["timeout"]),
            logger=step_logger,
            http_allow=tuple(str(network) for network in task.get("http_allow") or ()),
        )
        ctx.progress_sink = functools.partial(self._progress, task, secrets)
        # Any logger (httpx's, a handler's own) may print a value while the step runs: the
        # log processor redacts the registered values from every line until it ends.
        secret_values.add(secrets)
        runner = asyncio.create_task(self._execute(task, ctx), name=f"qo-step-{step_id}")
        attempt = _Attempt(task=task, ctx=ctx, runner=runner, secrets=secrets, log=step_logger)
        self._inflight[step_id] = attempt
        runner.add_done_callback(functools.partial(self._finished, attempt))

    async def _progress(self, task: Task, secrets: list[str], data: dict[str, Any]) -> None:
        """Send a handler's partial output for its attempt (secrets' values redacted)."""
        agent_id = self._agent_id
        if agent_id is None:
            return
        payload = redact(data, secrets) if secrets else data
        await self._transport.progress(agent_id, task["step_id"], task["attempt"], payload)

    def _cancel_attempt(self, attempt: _Attempt, reason: ErrorInfo) -> None:
        if attempt.runner.done():
            return
        attempt.cancel_reason = reason
        attempt.ctx.cancelled.set()
        attempt.runner.cancel()

    def _finished(self, attempt: _Attempt, runner: asyncio.Task[Result]) -> None:
        step_id = attempt.task["step_id"]
        if self._inflight.get(step_id) is attempt:
            del self._inflight[step_id]
        secret_values.discard(attempt.secrets)
        self._slot_freed.set()
        if runner.cancelled():
            reason = attempt.cancel_reason or _error(
                "cancelled", "the attempt was cancelled", retryable=True
            )
            result = _failed(attempt.task, reason)
        elif (exc := runner.exception()) is not None:
            attempt.ctx.logger.error("attempt of step %s crashed", step_id, exc_info=exc)
            result = _failed(attempt.task, error_info(exc, redact=attempt.secrets))
        else:
            result = runner.result()
        lines = attempt.log.drain()
        if lines:
            result = {**result, "logs": lines}
        self._results.append(result)
        self._results_ready.set()

    async def _execute(self, task: Task, ctx: StepContext) -> Result:
        handler = self._handlers.get(task["node_type"])
        if handler is None:
            message = f"this agent has no capability {task['node_type']!r}"
            return _failed(task, _error("unknown_node_type", message, retryable=False))
        params = task["params"] if isinstance(task["params"], dict) else {}
        timeout = float(task["timeout"]) if task["timeout"] and task["timeout"] > 0 else None
        scope = asyncio.timeout(timeout)
        ctx.logger.debug("attempt %d of %s started", task["attempt"], task["node_type"])
        secrets = _secrets_of(task)
        try:
            async with scope:
                output = await handler(params, ctx)
        except TimeoutError as exc:
            if not scope.expired():
                return _failed(task, error_info(exc, redact=secrets))
            ctx.cancelled.set()
            ctx.logger.warning("attempt timed out after %ss", timeout)
            return _failed(
                task, error_info(StepTimeoutError(f"the step ran past its timeout of {timeout}s"))
            )
        except Exception as exc:  # noqa: BLE001 - every handler failure becomes a result
            ctx.logger.info("attempt failed: %s: %s", type(exc).__name__, exc)
            return _failed(task, error_info(exc, redact=secrets))
        return self._succeeded(task, output)

    def _succeeded(self, task: Task, output: Any) -> Result:
        try:
            encoded = json.dumps(output, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            message = f"the output is not JSON-serialisable: {exc}"
            return _failed(task, _error("invalid_output", message, retryable=False))
        try:
            size = len(encoded.encode("utf-8"))
        except UnicodeEncodeError:
            message = "the output holds text that is not valid Unicode (a lone surrogate)"
            return _failed(task, _error("invalid_output", message, retryable=False))
        # Databases cannot store NUL in text (PostgreSQL refuses it), so the server refuses
        # it too: reported as is, the result would be refused again at every retry.
        if _holds_nul(output):
            message = "the output holds a NUL character (\\u0000), which cannot be stored"
            return _failed(task, _error("invalid_output", message, retryable=False))
        if size > self._max_output_bytes:
            too_large = OutputTooLargeError(
                f"the output is {size} bytes; the limit is {self._max_output_bytes}",
                retryable=False,
            )
            return _failed(task, error_info(too_large))
        # Reporting the decoded copy sends plain JSON types (tuples become lists) and keeps
        # in-process transports from sharing objects with the handler.
        return Result(
            step_id=task["step_id"],
            attempt=task["attempt"],
            status="succeeded",
            output=json.loads(encoded),
        )


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


__all__ = ["AgentRuntime", "RuntimeOptions", "error_info"]
