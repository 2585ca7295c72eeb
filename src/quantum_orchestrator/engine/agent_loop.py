"""``generative.agent``: the engine drives a tool-using agent loop, durably, as child steps.

Each model turn is a child step of type ``generative.llm_chat`` (run by an agent, behind the
SSRF guard; its usage is recorded and budgets apply like any LLM step). Each tool call the model
makes is a child step of the named node type, params = the call's arguments; the tools are the
workspace's agent-run node types (built in, from node packs, or capabilities its agents
registered), so a call to a capability runs on an agent that offers it. Children are
numbered by ``map_index`` in the order they were made, so the run shows what the agent did.

The conversation and counters live in the agent step's ``output`` while it runs; every change
happens in the transaction that finishes a child, so a restart loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from quantum_orchestrator.domain.agent_loop import (
    TURN_NODE_TYPE,
    TURN_PARAMS,
    Limits,
    first_messages,
    read_tool_calls,
    render_tools,
    tool_message,
)
from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.domain.node_types import NodeType, builtin_catalog
from quantum_orchestrator.domain.plan import Plan
from quantum_orchestrator.domain.states import StepState, step_sources, step_transition
from quantum_orchestrator.domain.usage import ModelPrice, cost_of, usage_of
from quantum_orchestrator.engine.unit import Tx

if TYPE_CHECKING:
    from quantum_orchestrator.engine.scheduler import Scheduler

Row = dict[str, Any]


def _prices(sched: Scheduler) -> dict[str, ModelPrice]:
    return {
        model: ModelPrice(
            prompt_per_1k=price.prompt_per_1k, completion_per_1k=price.completion_per_1k
        )
        for model, price in sched.settings.llm_prices.items()
    }


def _allowed(state: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, NodeType]:
    """The tools the step offers, with the param schemas resolved when it started."""
    resolved = state.get("allowed")
    if isinstance(resolved, dict):
        return {
            name: NodeType(name=name, category="tool", description="", params_schema=schema)
            for name, schema in resolved.items()
        }
    # A step started before the schemas were kept: the built-in types it could offer.
    catalog = builtin_catalog()
    names = params.get("tools") or []
    return {name: catalog[name] for name in names if name in catalog}


async def start(
    sched: Scheduler, tx: Tx, *, run: Row, plan: Plan, row: Row, params: Mapping[str, Any]
) -> list[Row]:
    """Start an agent step: it runs, and its first model turn is queued."""
    # The workspace's catalog, read with this transaction's connection: built-in agent-run
    # types, node packs' types and the capabilities its agents registered. The schemas are
    # kept in the step's state, so every call of the loop is checked against the same ones.
    catalog = await sched.node_types(tx, run["workspace_id"])
    try:
        tools = render_tools(params.get("tools") or [], catalog)
        messages = first_messages(params)
    except QOError as exc:
        return [await sched.fail_now(tx, run, row, exc.to_dict())]
    names: list[str] = params.get("tools") or []
    allowed = {name: catalog[name].params_schema for name in dict.fromkeys(names)}
    state: dict[str, Any] = {
        "messages": messages,
        "tools": tools,
        "allowed": allowed,
        "iterations": 0,
        "tool_calls": 0,
        "next_index": 0,
        "turn_index": None,
        "calls": [],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.0},
    }
    step_transition(row["state"], StepState.RUNNING)
    await sched.repos.steps.update(
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
    tx.step_event(row, "running", data={"tools": len(tools)})
    parent = {**row, "state": "running", "params": dict(params), "started_at": tx.now}
    return await _next_turn(sched, tx, run=run, plan=plan, parent=parent, state=state)


async def _children(
    sched: Scheduler, tx: Tx, *, run: Row, plan: Plan, parent: Row, made: list[tuple[str, Any]]
) -> list[Row]:
    """Insert and queue child steps ``(node_type, params)``; answers their rows."""
    node = plan.nodes[parent["node_id"]]
    state = parent["output"]
    rows: list[Row] = []
    for node_type, params in made:
        index = state["next_index"]
        state["next_index"] = index + 1
        child = sched._step_row(run, node)
        child.update(
            node_id=f"{node.id}[{index}]",
            node_type=node_type,
            parent_id=parent["id"],
            map_index=index,
            params=params,
            trigger_rule="all_success",
            up_total=0,
        )
        rows.append(child)
    await sched.repos.steps.insert_many(tx.conn, rows)
    await sched._queue(tx, run, [{"sid": c["id"], "params": c["params"]} for c in rows], rows)
    return rows


async def _save(sched: Scheduler, tx: Tx, parent: Row, state: dict[str, Any]) -> None:
    await sched.repos.steps.update(
        tx.conn, step_id=parent["id"], sources=("running",), values={"output": state}
    )


async def _next_turn(
    sched: Scheduler, tx: Tx, *, run: Row, plan: Plan, parent: Row, state: dict[str, Any]
) -> list[Row]:
    params = parent["params"] or {}
    limit = Limits.of(params).iteration_error(state["iterations"])
    if limit is not None:
        return [await sched.fail_now(tx, run, parent, limit.to_dict())]
    turn: dict[str, Any] = {k: params[k] for k in TURN_PARAMS if params.get(k) is not None}
    turn["messages"] = state["messages"]
    if state["tools"]:
        turn["tools"] = state["tools"]
    size = len(json.dumps(turn, separators=(",", ":"), ensure_ascii=False).encode())
    if size > sched.settings.max_output_bytes:
        error = QOError(
            f"the agent's conversation grew past {sched.settings.max_output_bytes} bytes",
            code="agent_conversation_too_large",
        )
        return [await sched.fail_now(tx, run, parent, error.to_dict())]
    parent = {**parent, "output": state}
    state["turn_index"] = state["next_index"]
    state["calls"] = []
    await _children(sched, tx, run=run, plan=plan, parent=parent, made=[(TURN_NODE_TYPE, turn)])
    await _save(sched, tx, parent, state)
    return []


async def child_finished(
    sched: Scheduler, tx: Tx, *, run: Row, parent: Row, child: Row
) -> list[Row]:
    """A turn or a tool call of ``parent`` ended: go on with the loop, or end it."""
    if parent["state"] != "running" or not isinstance(parent.get("output"), dict):
        return []
    state: dict[str, Any] = parent["output"]
    plan = await sched.plan_for(tx, run)
    params = parent["params"] or {}
    limits = Limits.of(params)
    if child["map_index"] == state.get("turn_index"):
        return await _turn_finished(sched, tx, run=run, plan=plan, parent=parent, child=child)
    calls: list[dict[str, Any]] = state["calls"]
    for call in calls:
        if call.get("index") == child["map_index"]:
            if child["state"] == "succeeded":
                call["result"] = child["output"]
            else:
                error = child.get("error") or {"code": child["state"]}
                call["result"] = {
                    "error": {"code": error.get("code"), "message": error.get("message")}
                }
    if any("result" not in call for call in calls):
        await _save(sched, tx, parent, state)
        return []
    for call in calls:
        state["messages"].append(tool_message(call["id"], call["result"]))
    exceeded = limits.exceeded(
        tokens=state["usage"]["total_tokens"],
        cost=state["usage"]["cost"],
        seconds=(tx.now - parent["started_at"]).total_seconds(),
    )
    if exceeded is not None:
        return [await sched.fail_now(tx, run, parent, exceeded.to_dict())]
    return await _next_turn(sched, tx, run=run, plan=plan, parent=parent, state=state)


async def _turn_finished(
    sched: Scheduler, tx: Tx, *, run: Row, plan: Plan, parent: Row, child: Row
) -> list[Row]:
    state: dict[str, Any] = parent["output"]
    if child["state"] != "succeeded":
        message = (child.get("error") or {}).get("message") or child["state"]
        error = QOError(
            f"model turn {state['iterations'] + 1} failed: {message}", code="agent_turn_failed"
        )
        return [await sched.fail_now(tx, run, parent, error.to_dict())]
    output = child["output"] if isinstance(child["output"], dict) else {}
    state["iterations"] += 1
    used = usage_of(output)
    if used is not None:
        totals = state["usage"]
        totals["prompt_tokens"] += used.prompt_tokens
        totals["completion_tokens"] += used.completion_tokens
        totals["total_tokens"] += used.prompt_tokens + used.completion_tokens
        totals["cost"] += cost_of(used, _prices(sched))
        totals["model"] = used.model
    params = parent["params"] or {}
    exceeded = Limits.of(params).exceeded(
        tokens=state["usage"]["total_tokens"],
        cost=state["usage"]["cost"],
        seconds=(tx.now - parent["started_at"]).total_seconds(),
    )
    if exceeded is not None:
        return [await sched.fail_now(tx, run, parent, exceeded.to_dict())]
    raw_calls = output.get("tool_calls")
    content = output.get("content") or ""
    if not raw_calls:
        result = {
            "answer": content,
            "iterations": state["iterations"],
            "tool_calls": state["tool_calls"],
            "usage": state["usage"],
        }
        return [await sched.succeed_now(tx, run, parent, result)]
    state["messages"].append(
        {"role": "assistant", "content": content or None, "tool_calls": raw_calls}
    )
    calls = read_tool_calls(raw_calls, _allowed(state, params), turn=state["iterations"])
    state["tool_calls"] += len(calls)
    made: list[tuple[str, Any]] = []
    records: list[dict[str, Any]] = []
    for call in calls:
        record: dict[str, Any] = {"id": call.id, "name": call.name}
        if call.problem is not None or call.node_type is None:
            # Told to the model as the tool's answer; it may correct itself next turn.
            record["result"] = {"error": {"code": "invalid_tool_call", "message": call.problem}}
        else:
            record["index"] = state["next_index"] + len(made)
            made.append((call.node_type, call.arguments))
        records.append(record)
    state["calls"] = records
    parent = {**parent, "output": state}
    if made:
        await _children(sched, tx, run=run, plan=plan, parent=parent, made=made)
        await _save(sched, tx, parent, state)
        return []
    for record in records:
        state["messages"].append(tool_message(record["id"], record["result"]))
    return await _next_turn(sched, tx, run=run, plan=plan, parent=parent, state=state)
