"""What happens inside the engine's transactions: steps start, finish, and wake their successors.

Everything here runs inside one ``Tx``. A step that finishes, the counting of its outcome into
its downstream steps, the queueing (or skipping) of those that became ready, and the end of the
run when nothing is left, all commit together or not at all.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from quantum_orchestrator.domain.agent_loop import AGENT
from quantum_orchestrator.domain.control import (
    APPROVAL,
    SUBWORKFLOW,
    WAIT_UNTIL,
    approval_wake_at,
    parse_until,
)
from quantum_orchestrator.domain.errors import QOError, TemplateError
from quantum_orchestrator.domain.node_types import NodeType, builtin_catalog
from quantum_orchestrator.domain.plan import Edge, Plan, PlanNode, Readiness, Retry, decide
from quantum_orchestrator.domain.secrets import SecretNames, mentions_secrets
from quantum_orchestrator.domain.spec import RetryPolicy, WorkflowSpec
from quantum_orchestrator.domain.states import (
    RUN_TERMINAL,
    RunState,
    StepState,
    run_transition,
    step_sources,
    step_transition,
)
from quantum_orchestrator.domain.templates import is_truthy, referenced_nodes, render
from quantum_orchestrator.domain.validation import validate_inputs
from quantum_orchestrator.engine import agent_loop
from quantum_orchestrator.engine.catalog import Catalog
from quantum_orchestrator.engine.plans import PlanCache
from quantum_orchestrator.engine.unit import Repositories, Tx
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.types import new_id

Row = dict[str, Any]
_ACTIVE = ("pending", "queued", "running", "waiting")
logger = logging.getLogger("quantum_orchestrator.engine")
# Steps whose malformed retry policy was already reported, most recent last: enough to say it
# once per step on a busy server, bounded so a flood of bad rows cannot grow it forever.
_WARNED_LIMIT = 10_000


def error_info(code: str, message: str, *, retryable: bool = False) -> dict[str, Any]:
    """An error as stored on steps, attempts and runs."""
    return {"code": code, "message": message, "retryable": retryable}


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class Scheduler:
    """Starts steps and propagates their outcomes; every method takes the open ``Tx``."""

    def __init__(
        self,
        *,
        repos: Repositories,
        plans: PlanCache,
        settings: EngineSettings,
        catalog: Catalog | None = None,
    ) -> None:
        self.repos = repos
        self.plans = plans
        self.settings = settings
        # The workspace's node types (built-in, node packs, agents' capabilities): the tools
        # ``generative.agent`` may offer. Without it, only the built-in types.
        self.catalog = catalog
        # Called in the transaction that ends a run (run-completion triggers).
        self.run_finished: list[Callable[[Tx, Row], Awaitable[None]]] = []
        self._warned_retry: OrderedDict[str, None] = OrderedDict()

    def retry_of(self, step: Row) -> Retry:
        """The step's stored retry policy, read so that it cannot fail.

        A malformed policy (a row written around the spec's validation) falls back field by
        field to the defaults, with a warning logged once per step: the step still retries or
        fails by a sane policy, and the other steps of the same transaction are not held up.
        """
        retry, problems = Retry.parse_stored(
            step.get("retry"), default_max_attempts=self.settings.default_max_attempts
        )
        if problems and step["id"] not in self._warned_retry:
            self._warned_retry[step["id"]] = None
            if len(self._warned_retry) > _WARNED_LIMIT:
                self._warned_retry.popitem(last=False)
            logger.warning(
                "step %s (run %s, node %s) has a malformed retry policy: %s",
                step["id"],
                step.get("run_id"),
                step.get("node_id"),
                "; ".join(problems),
            )
        return retry

    # -- runs -------------------------------------------------------------------------------

    async def start_run(self, tx: Tx, *, run: Row, plan: Plan) -> None:
        """Create a run's steps and start its root nodes (the run was just inserted)."""
        rows = [self._step_row(run, node) for node in (plan.nodes[i] for i in plan.order)]
        await self.repos.steps.insert_many(tx.conn, rows)
        tx.event(
            workspace_id=run["workspace_id"], run_id=run["id"], type="run.queued", state="queued"
        )
        roots = [row for row in rows if row["up_total"] == 0]
        finished = await self._activate(tx, run=run, plan=plan, rows=roots)
        if finished:
            await self.propagate(tx, finished)
        elif run["id"] not in tx.queued_runs:
            # Nothing finished and nothing was queued: the run may wait on a delay only.
            await self.settle_run(tx, run)

    async def restart(self, tx: Tx, *, run: Row, plan: Plan, rows: Sequence[Row]) -> None:
        """Start again the reset steps of a retried run whose upstream steps allow it."""
        finished = await self._advance(tx, run=run, plan=plan, rows=rows)
        await self.propagate(tx, finished)
        await self.settle_run(tx, run)

    async def _advance(self, tx: Tx, *, run: Row, plan: Plan, rows: Sequence[Row]) -> list[Row]:
        """Apply each pending step's trigger rule: start it, skip it, or let it wait.

        Answers the steps that finished here (skipped, or failed or done at once).
        """
        ready: list[Row] = []
        finished: list[Row] = []
        for row in rows:
            if row["state"] != "pending":
                continue
            decision = decide(
                row["trigger_rule"],
                total=row["up_total"],
                succeeded=row["up_succeeded"],
                failed=row["up_failed"],
                skipped=row["up_skipped"],
            )
            if decision is Readiness.RUN:
                ready.append(row)
            elif decision is Readiness.SKIP:
                finished.append(await self._skip(tx, run, row))
        return finished + await self._activate(tx, run=run, plan=plan, rows=ready)

    def _step_row(self, run: Row, node: PlanNode) -> Row:
        return {
            "id": new_id(),
            "run_id": run["id"],
            "workspace_id": run["workspace_id"],
            "node_id": node.id,
            "node_type": node.type,
            "parent_id": None,
            "map_index": None,
            "state": "pending",
            "pool": node.pool,
            "params": None,
            "output": None,
            "error": None,
            "attempts": 0,
            "attempt_base": 0,
            "redeliveries": 0,
            "retry": node.retry.to_dict(),
            "timeout": node.timeout,
            "trigger_rule": node.trigger_rule,
            "up_total": len(node.upstream),
            "up_succeeded": 0,
            "up_failed": 0,
            "up_skipped": 0,
            "skipped_targets": None,
            "available_at": None,
            "wake_at": None,
            "lease_expires_at": None,
            "deadline_at": None,
            "agent_id": None,
            "queued_at": None,
            "started_at": None,
            "finished_at": None,
        }

    async def secret_names(self, tx: Tx, run: Row) -> SecretNames:
        """``secrets`` for templates: each of the workspace's secrets gives its marker."""
        names = await self.repos.secrets.names(tx.conn, workspace_id=run["workspace_id"])
        return SecretNames(names)

    async def node_types(self, tx: Tx, workspace_id: str) -> dict[str, NodeType]:
        """Every node type usable in the workspace, read with the transaction's connection."""
        if self.catalog is None:
            return builtin_catalog()
        return await self.catalog.for_workspace_in(tx.conn, workspace_id)

    async def plan_for(self, tx: Tx, run: Row) -> Plan:
        """The compiled plan of a run's version."""
        return await self.plans.get(tx.conn, self.repos.workflows, run["version_id"])

    async def context(
        self, tx: Tx, *, run: Row, refs: set[str], extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What templates see: inputs, the referenced nodes' outputs, the run."""
        outputs = await self.repos.steps.outputs(tx.conn, run["id"], refs)
        return self._context_of(run, outputs, extra)

    def _context_of(
        self, run: Row, outputs: Mapping[str, Row], extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "inputs": run["inputs"],
            "nodes": {
                node_id: {"output": row["output"], "state": row["state"]}
                for node_id, row in outputs.items()
            },
            "run": {
                "id": run["id"],
                "workflow": run["workflow_name"],
                "version": run["version"],
                "created_at": run["created_at"].isoformat(),
            },
            **(extra or {}),
        }

    # -- starting steps ---------------------------------------------------------------------

    async def _activate(self, tx: Tx, *, run: Row, plan: Plan, rows: Sequence[Row]) -> list[Row]:
        """Start steps whose trigger rule said run; answers the steps that finished at once."""
        finished: list[Row] = []
        refs: set[str] = set()
        for row in rows:
            node = plan.nodes[row["node_id"]]
            refs |= node.refs
            if node.node_type and node.node_type.receives_upstream:
                refs |= set(node.upstream)
        outputs = await self.repos.steps.outputs(tx.conn, run["id"], refs) if rows else {}
        context = self._context_of(run, outputs)
        if any(mentions_secrets(plan.nodes[row["node_id"]].params) for row in rows):
            # Only the names: the values are bound when an agent claims the step.
            context["secrets"] = await self.secret_names(tx, run)
        queued: list[Row] = []
        for row in rows:
            node = plan.nodes[row["node_id"]]
            try:
                params = self._render_params(node, context, outputs)
            except QOError as exc:
                finished.append(await self._fail_now(tx, run, row, exc.to_dict()))
                continue
            if node.type == "core.delay":
                await self._start_delay(tx, run, row, params)
            elif node.type == SUBWORKFLOW:
                finished += await self._start_subworkflow(tx, run, row, params)
            elif node.type in (APPROVAL, WAIT_UNTIL):
                try:
                    await self._start_waiting(tx, row, params)
                except QOError as exc:
                    finished.append(await self._fail_now(tx, run, row, exc.to_dict()))
            elif node.type == "core.map":
                finished += await self._start_map(tx, run=run, plan=plan, row=row, params=params)
            elif node.type == AGENT:
                finished += await agent_loop.start(
                    self, tx, run=run, plan=plan, row=row, params=params
                )
            else:
                queued.append({"sid": row["id"], "params": params})
        if queued:
            await self._queue(tx, run, queued, rows)
        return finished

    def _render_params(
        self, node: PlanNode, context: Mapping[str, Any], outputs: Mapping[str, Row]
    ) -> Any:
        raw = node.node_type.raw_params if node.node_type else frozenset()
        params = {
            key: value if key in raw else render(value, context, where=f"params.{key}")
            for key, value in node.params.items()
        }
        if node.node_type and node.node_type.receives_upstream:
            # Only the upstream steps that succeeded and whose connection to this node was
            # taken (its ``when`` held, or its branch label was selected) are merged.
            params["upstream"] = {
                up: outputs[up]["output"]
                for up in node.upstream
                if up in outputs
                and outputs[up]["state"] == "succeeded"
                and node.id not in (outputs[up].get("skipped_targets") or [])
            }
        size = json_size(params)
        if size > self.settings.max_output_bytes:
            raise QOError(
                f"the rendered params are {size} bytes, more than the limit of "
                f"{self.settings.max_output_bytes}",
                code="params_too_large",
            )
        return params

    async def _queue(self, tx: Tx, run: Row, queued: list[Row], rows: Sequence[Row]) -> None:
        step_transition("pending", StepState.QUEUED)
        await self.repos.steps.queue_many(tx.conn, items=queued, now=tx.now)
        by_id = {row["id"]: row for row in rows}
        for item in queued:
            row = by_id[item["sid"]]
            tx.step_event(row, "queued")
        tx.work_queued = True
        tx.queued_runs.add(run["id"])

    async def _start_delay(self, tx: Tx, run: Row, row: Row, params: Mapping[str, Any]) -> None:
        seconds = float(params.get("seconds", 0))
        step_transition(row["state"], StepState.WAITING)
        await self.repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.WAITING),
            values={
                "state": "waiting",
                "params": dict(params),
                "wake_at": tx.now + timedelta(seconds=seconds),
                "started_at": tx.now,
                "queued_at": tx.now,
            },
        )
        tx.step_event(row, "waiting", data={"seconds": seconds})

    async def _start_waiting(self, tx: Tx, row: Row, params: Mapping[str, Any]) -> None:
        """An approval or a wait-until step waits; its timer (if any) is ``wake_at``."""
        if row["node_type"] == WAIT_UNTIL:
            until = parse_until(params.get("until"))
            # A time already past still goes through the timer: the next tick finishes it,
            # so both cases take the same, durable path.
            wake_at: datetime | None = until
            data: dict[str, Any] = {"until": until.isoformat()}
        else:
            wake_at = approval_wake_at(params, tx.now)
            data = {"approval": True, "timeout_at": wake_at.isoformat() if wake_at else None}
        step_transition(row["state"], StepState.WAITING)
        await self.repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.WAITING),
            values={
                "state": "waiting",
                "params": dict(params),
                "wake_at": wake_at,
                "started_at": tx.now,
                "queued_at": tx.now,
            },
        )
        tx.step_event(row, "waiting", data=data)

    async def _start_subworkflow(
        self, tx: Tx, run: Row, row: Row, params: Mapping[str, Any]
    ) -> list[Row]:
        """Start the child run of a ``core.subworkflow`` step; the step waits for it.

        The child is looked up in the run's own workspace only. When it ends, it sets the
        step's ``wake_at`` (see ``_set_run_state``) and the timer loop finishes the step.
        """
        depth = int(run.get("depth") or 0) + 1
        if depth > self.settings.max_subworkflow_depth:
            error = error_info(
                "subworkflow_depth_exceeded",
                f"sub-workflows nest deeper than {self.settings.max_subworkflow_depth} "
                "(engine.max_subworkflow_depth); does the workflow call itself?",
            )
            return [await self._fail_now(tx, run, row, error)]
        repos = self.repos
        try:
            workflow = await repos.workflows.get(
                tx.conn, workspace_id=run["workspace_id"], ref=str(params["workflow"])
            )
            version = await repos.workflows.get_version(
                tx.conn, workflow=workflow, number=params.get("version"), with_spec=False
            )
            plan = await self.plans.get(tx.conn, repos.workflows, version["id"])
            inputs = params.get("inputs") or {}
            validate_inputs(plan.spec.inputs, inputs)
        except QOError as exc:
            return [await self._fail_now(tx, run, row, {**exc.to_dict(), "retryable": False})]
        child = {
            "id": new_id(),
            "workspace_id": run["workspace_id"],
            "workflow_id": workflow["id"],
            "workflow_name": workflow["name"],
            "version_id": version["id"],
            "version": version["number"],
            "state": RunState.QUEUED.value,
            "inputs": inputs,
            "outputs": None,
            "error": None,
            "idempotency_key": None,
            "trigger": "subworkflow",
            "created_at": tx.now,
            "started_at": None,
            "finished_at": None,
            "updated_at": tx.now,
            "parent_run_id": run["id"],
            "parent_step_id": row["id"],
            "depth": depth,
        }
        step_transition(row["state"], StepState.WAITING)
        await repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.WAITING),
            values={
                "state": "waiting",
                "params": dict(params),
                "wake_at": None,
                "started_at": tx.now,
                "queued_at": tx.now,
            },
        )
        tx.step_event(row, "waiting", data={"child_run_id": child["id"]})
        await repos.runs.insert(tx.conn, child)
        await self.start_run(tx, run=child, plan=plan)
        return []

    async def _start_map(
        self, tx: Tx, *, run: Row, plan: Plan, row: Row, params: Mapping[str, Any]
    ) -> list[Row]:
        items = params.get("items")
        inner = params["node"]
        if not isinstance(items, list):
            return [
                await self._fail_now(
                    tx,
                    run,
                    row,
                    error_info("invalid_params", "params.items: must render to a list"),
                )
            ]
        inner_refs = referenced_nodes(inner.get("params", {}))
        base = await self.context(tx, run=run, refs=inner_refs)
        if mentions_secrets(inner.get("params", {})):
            base["secrets"] = await self.secret_names(tx, run)
        children: list[Row] = []
        node = plan.nodes[row["node_id"]]
        retry = Retry.resolve(
            _retry_policy(inner.get("retry")),
            plan.spec.defaults.retry,
            default_max_attempts=self.settings.default_max_attempts,
        )
        timeout = float(
            inner.get("timeout") or plan.spec.defaults.timeout or self.settings.default_timeout
        )
        for index, item in enumerate(items):
            try:
                child_params = render(
                    inner.get("params", {}),
                    {**base, "item": item, "index": index},
                    where=f"params.node.params (item {index})",
                )
            except TemplateError as exc:
                return [await self._fail_now(tx, run, row, exc.to_dict())]
            child = self._step_row(run, node)
            child.update(
                node_id=f"{node.id}[{index}]",
                node_type=inner["type"],
                parent_id=row["id"],
                map_index=index,
                params=child_params,
                retry=retry.to_dict(),
                timeout=timeout,
                trigger_rule="all_success",
                up_total=0,
            )
            children.append(child)
        step_transition(row["state"], StepState.RUNNING)
        await self.repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.RUNNING),
            values={
                "state": "running",
                "params": dict(params),
                "started_at": tx.now,
                "queued_at": tx.now,
            },
        )
        tx.step_event(row, "running", data={"items": len(items)})
        if not children:
            return [await self.succeed_now(tx, run, {**row, "state": "running"}, [])]
        await self.repos.steps.insert_many(tx.conn, children)
        concurrency = int(params.get("concurrency") or 4)
        first = children[:concurrency]
        await self._queue(tx, run, [{"sid": c["id"], "params": c["params"]} for c in first], first)
        return []

    # -- finishing steps --------------------------------------------------------------------

    async def fail_now(self, tx: Tx, run: Row, row: Row, error: Mapping[str, Any]) -> Row:
        """Fail a step the engine itself carried out (a map, a sub-workflow)."""
        return await self._fail_now(tx, run, row, error)

    async def _fail_now(self, tx: Tx, run: Row, row: Row, error: Mapping[str, Any]) -> Row:
        step_transition(row["state"], StepState.FAILED)
        await self.repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.FAILED),
            values={"state": "failed", "error": dict(error), "finished_at": tx.now},
        )
        tx.step_event(row, "failed", data={"error": dict(error)})
        return {**row, "state": "failed", "error": dict(error)}

    async def succeed_now(self, tx: Tx, run: Row, row: Row, output: Any) -> Row:
        """Finish a step the engine itself carried out (a delay, a map)."""
        step_transition(row["state"], StepState.SUCCEEDED)
        await self.repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.SUCCEEDED),
            values={"state": "succeeded", "output": output, "finished_at": tx.now},
        )
        tx.step_event(row, "succeeded")
        return {**row, "state": "succeeded", "output": output}

    async def propagate(self, tx: Tx, finished: Sequence[Row]) -> None:
        """Count finished steps into their successors, start or skip those, end finished runs."""
        pending = list(finished)
        runs: dict[str, Row] = {}
        while pending:
            by_run: dict[str, list[Row]] = defaultdict(list)
            for row in pending:
                by_run[row["run_id"]].append(row)
            pending = []
            missing = [run_id for run_id in by_run if run_id not in runs]
            # The run row is locked before any sibling step is looked at: transactions that
            # finish steps of one run take turns here, so the last one to commit sees every
            # other step's outcome (else two concurrent last steps each see the other still
            # running and the run, or a map, never ends).
            runs.update(await self.repos.runs.get_many(tx.conn, missing, lock=True))
            for run_id, rows in by_run.items():
                run = runs[run_id]
                if run["state"] in RUN_TERMINAL:
                    continue
                plan = await self.plan_for(tx, run)
                pending += await self._propagate_run(tx, run=run, plan=plan, rows=rows)
        for run in runs.values():
            # A run that just had a step queued is not over, and the claim of that step moves
            # it to running: counting its steps again would change nothing.
            if run["state"] not in RUN_TERMINAL and run["id"] not in tx.queued_runs:
                await self.settle_run(tx, run)

    async def _propagate_run(self, tx: Tx, *, run: Row, plan: Plan, rows: list[Row]) -> list[Row]:
        finished: list[Row] = []
        increments: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in rows:
            if row["parent_id"]:
                finished += await self._map_child_finished(tx, run=run, plan=plan, child=row)
                continue
            node = plan.nodes[row["node_id"]]
            outcome = await self._edge_outcomes(tx, run=run, node=node, row=row)
            for target, kind in outcome.items():
                increments[target][kind] += 1
        if not increments:
            return finished
        changed = await self.repos.steps.add_upstream_outcomes(
            tx.conn,
            run_id=run["id"],
            increments={k: (v[0], v[1], v[2]) for k, v in increments.items()},
        )
        return finished + await self._advance(tx, run=run, plan=plan, rows=changed)

    async def _edge_outcomes(self, tx: Tx, *, run: Row, node: PlanNode, row: Row) -> dict[str, int]:
        """For each downstream node: 0 succeeded (edge taken), 1 failed, 2 skipped/not taken."""
        state = row["state"]
        if state == "failed":
            return {edge.target: 1 for edge in node.downstream}
        if state != "succeeded":
            return {edge.target: 2 for edge in node.downstream}
        outcome: dict[str, int] = {}
        not_taken: list[str] = []
        for edge in node.downstream:
            taken = await self._edge_taken(tx, run=run, edge=edge, output=row.get("output"))
            outcome[edge.target] = 0 if taken else 2
            if not taken:
                not_taken.append(edge.target)
        if not_taken:
            await self.repos.steps.update(
                tx.conn,
                step_id=row["id"],
                sources=("succeeded",),
                values={"skipped_targets": not_taken},
            )
        return outcome

    async def _edge_taken(self, tx: Tx, *, run: Row, edge: Edge, output: Any) -> bool:
        if edge.when is None:
            return True
        if edge.is_label:
            selected = output.get("selected", []) if isinstance(output, dict) else []
            return edge.when in selected
        context = await self.context(
            tx, run=run, refs=referenced_nodes(edge.when), extra={"output": output}
        )
        try:
            return is_truthy(
                render(edge.when, context, where=f"connection {edge.source} → {edge.target}")
            )
        except TemplateError:
            # A condition that cannot be evaluated does not hold; the run's timeline says why.
            tx.event(
                workspace_id=run["workspace_id"],
                run_id=run["id"],
                type="connection.error",
                node_id=edge.source,
                data={"to": edge.target, "when": edge.when},
            )
            return False

    async def _skip(self, tx: Tx, run: Row, row: Row) -> Row:
        step_transition(row["state"], StepState.SKIPPED)
        await self.repos.steps.update(
            tx.conn,
            step_id=row["id"],
            sources=step_sources(StepState.SKIPPED),
            values={"state": "skipped", "finished_at": tx.now},
        )
        tx.step_event(row, "skipped")
        return {**row, "state": "skipped"}

    async def _map_child_finished(self, tx: Tx, *, run: Row, plan: Plan, child: Row) -> list[Row]:
        parent = await self.repos.steps.get(tx.conn, child["parent_id"])
        if parent is None or parent["state"] != "running":
            return []
        if parent["node_type"] == AGENT:
            return await agent_loop.child_finished(self, tx, run=run, parent=parent, child=child)
        children = await self.repos.steps.children(tx.conn, parent["id"])
        failed = [c for c in children if c["state"] in ("failed", "cancelled")]
        waiting = [c for c in children if c["state"] == "pending"]
        if failed and waiting:
            # Fail fast: once an item has failed for good, the items not started never start.
            for row in waiting:
                await self._skip(tx, run, row)
            waiting = []
        if waiting:
            nxt = waiting[0]
            await self._queue(tx, run, [{"sid": nxt["id"], "params": nxt["params"]}], [nxt])
            return []
        if any(c["state"] in ("queued", "running") for c in children):
            return []
        if failed:
            first = failed[0]
            message = first["error"]["message"] if first.get("error") else first["state"]
            error = error_info(
                "map_item_failed",
                f"{len(failed)} of {len(children)} items failed; "
                f"item {first['map_index']}: {message}",
            )
            return [await self._fail_now(tx, run, parent, error)]
        output = [c["output"] for c in children]
        size = json_size(output)
        if size > self.settings.max_output_bytes:
            error = error_info(
                "output_too_large",
                f"the map's output is {size} bytes, more than {self.settings.max_output_bytes}",
            )
            return [await self._fail_now(tx, run, parent, error)]
        return [await self.succeed_now(tx, run, parent, output)]

    async def settle_run(self, tx: Tx, run: Row) -> None:
        """End the run when no step is left to do; keep running/waiting up to date otherwise."""
        counts = await self.repos.runs.step_state_counts(tx.conn, run["id"])
        active = sum(counts.get(state, 0) for state in _ACTIVE)
        if active:
            busy = counts.get("queued", 0) + counts.get("running", 0)
            if run["state"] in ("queued", "running") and not busy and counts.get("waiting", 0):
                # Its steps have started (one waits on a timer), so the run has started too.
                await self._set_run_state(
                    tx, run, RunState.WAITING, {"started_at": run.get("started_at") or tx.now}
                )
            elif run["state"] == "waiting" and busy:
                await self._set_run_state(tx, run, RunState.RUNNING, {})
            return
        if counts.get("cancelled", 0) or (
            # A failed tool call of an agent step was the model's to handle: only a failed
            # top-level step fails the run.
            counts.get("failed", 0)
            and await self.repos.runs.first_failed_step(tx.conn, run["id"]) is not None
        ):
            error = await self._run_error(tx, run)
            await self._set_run_state(
                tx, run, RunState.FAILED, {"error": error, "finished_at": tx.now}
            )
            return
        plan = await self.plan_for(tx, run)
        try:
            outputs = await self._render_outputs(tx, run, plan.spec)
        except TemplateError as exc:
            await self._set_run_state(
                tx, run, RunState.FAILED, {"error": exc.to_dict(), "finished_at": tx.now}
            )
            return
        size = json_size(outputs)
        if size > self.settings.max_output_bytes:
            error = error_info(
                "output_too_large",
                f"the run's outputs are {size} bytes, more than {self.settings.max_output_bytes}",
            )
            await self._set_run_state(
                tx, run, RunState.FAILED, {"error": error, "finished_at": tx.now}
            )
            return
        await self._set_run_state(
            tx, run, RunState.SUCCEEDED, {"outputs": outputs, "finished_at": tx.now}
        )

    async def _render_outputs(self, tx: Tx, run: Row, spec: WorkflowSpec) -> Any:
        if not spec.outputs:
            return {}
        context = await self.context(tx, run=run, refs=referenced_nodes(spec.outputs))
        return render(spec.outputs, context, where="outputs")

    async def _run_error(self, tx: Tx, run: Row) -> dict[str, Any]:
        row = await self.repos.runs.first_failed_step(tx.conn, run["id"])
        if row is None:
            return error_info("step_failed", "a step failed")
        message = (row["error"] or {}).get("message", "failed")
        return error_info("step_failed", f"step {row['node_id']} failed: {message}")

    async def _set_run_state(
        self, tx: Tx, run: Row, target: RunState, values: dict[str, Any]
    ) -> None:
        run_transition(run["state"], target)
        changed = await self.repos.runs.set_state(
            tx.conn,
            run_id=run["id"],
            expected=run["state"],
            values={"state": target.value, "updated_at": tx.now, **values},
        )
        if changed:
            data = {"error": values["error"]} if values.get("error") else None
            tx.event(
                workspace_id=run["workspace_id"],
                run_id=run["id"],
                type=f"run.{target}",
                state=target.value,
                data=data,
            )
            run["state"] = target.value
            run.update(values)
            if target in RUN_TERMINAL:
                for hook in self.run_finished:
                    await hook(tx, run)
                if run.get("parent_step_id"):
                    await self.wake_parent(tx, run)

    async def wake_parent(self, tx: Tx, run: Row) -> None:
        """A child run ended: its ``core.subworkflow`` step's timer becomes due now.

        The timer loop then finishes the step in its own transaction, which keeps the parent
        run's steps out of the child's transaction (and locks in one order: step, then run).
        """
        await self.repos.steps.update(
            tx.conn,
            step_id=run["parent_step_id"],
            sources=(StepState.WAITING.value,),
            values={"wake_at": tx.now},
        )


def _retry_policy(data: Any) -> RetryPolicy | None:
    return RetryPolicy.model_validate(data) if data else None
