"""The smallest proof that a run goes from accepted to succeeded on both databases."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.engine import EngineEnv, steps_by_node


async def test_chain_runs_to_success(engine_env: EngineEnv) -> None:
    await engine_env.deploy(
        {
            "name": "chain",
            "nodes": [
                {"id": "a", "type": "core.noop", "params": {"n": 1}},
                {"id": "b", "type": "core.noop", "params": {"n": "{{ nodes.a.output.n + 1 }}"}},
            ],
            "connections": [{"from": "a", "to": "b"}],
            "outputs": {"n": "{{ nodes.b.output.n }}"},
        }
    )
    agent = await engine_env.register(["core.noop"])
    run = await engine_env.start("chain")
    done = await engine_env.work(agent, run["id"])
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"n": 2}
    steps = steps_by_node(done)
    assert steps["b"]["params"] == {"n": 2}


async def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    env = await EngineEnv.open(f"sqlite+aiosqlite:///{data / 'qo.db'}")
    try:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
    finally:
        await env.close()
