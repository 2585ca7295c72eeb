"""Third-party node packs: ``examples/node_pack`` installed for real, found by its entry point.

The pack is built by pip from its own ``pyproject.toml`` (offline, no build isolation) into a
temporary ``--target`` directory that is put on ``sys.path`` for the test only: the dev venv is
left as it was.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run
from tests.support.server import live_app

from quantum_orchestrator.agents.serve import build_runtime
from quantum_orchestrator.agents.transport import AgentTransport
from quantum_orchestrator.domain.node_packs import (
    ENTRY_POINT_GROUP,
    NodePack,
    NodePackError,
    check_pack,
    load_node_packs,
)
from quantum_orchestrator.domain.node_types import NodeType
from quantum_orchestrator.settings import Settings

API = "/api/v1"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node_pack"


def _forget(prefix: str) -> None:
    for name in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[name]


@pytest.fixture
def example_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``pip install --target`` of a copy of the example pack, on ``sys.path`` for this test."""
    source = tmp_path / "source"
    # A copy: building leaves build/ and *.egg-info behind, which must not land in the repo.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(target))
    yield target
    _forget("qo_example_pack")


def _broken_dist(root: Path, entry_points: str) -> None:
    """A hand-made installed distribution whose entry points are broken."""
    info = root / "qo_broken_pack-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qo-broken-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_points}")
    (root / "qo_broken_pack.py").write_text(
        "raise RuntimeError('this pack is broken on purpose')\n"
    )
    (root / "qo_not_a_pack.py").write_text("pack = 'just a string'\n")


@pytest.fixture
def broken_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = tmp_path / "broken"
    _broken_dist(
        root,
        "crashes = qo_broken_pack:pack\n"
        "missing = qo_no_such_module:pack\n"
        "wrong = qo_not_a_pack:pack\n",
    )
    monkeypatch.syspath_prepend(str(root))
    yield
    _forget("qo_broken_pack")
    _forget("qo_not_a_pack")


def test_the_example_pack_is_found(example_pack: Path) -> None:
    loaded = load_node_packs()
    assert loaded.problems == ()
    (pack,) = loaded.packs
    assert (pack.name, pack.version) == ("qo-example-pack", "0.1.0")
    assert [t.name for t in loaded.node_types()] == ["example.slugify", "example.word_count"]
    assert all(t.builtin is False and t.category == "example" for t in loaded.node_types())
    assert set(loaded.handlers()) == {"example.slugify", "example.word_count"}


def test_without_packs_nothing_is_loaded() -> None:
    loaded = load_node_packs()
    assert loaded.packs == ()
    assert loaded.problems == ()


def test_broken_packs_are_reported_not_raised(broken_packs: None) -> None:
    loaded = load_node_packs()
    assert loaded.packs == ()
    problems = {p.entry_point.split(" ", 1)[0]: str(p) for p in loaded.problems}
    assert set(problems) == {"crashes", "missing", "wrong"}
    assert "RuntimeError: this pack is broken on purpose" in problems["crashes"]
    assert "ModuleNotFoundError" in problems["missing"]
    assert "expected a NodePack, got str" in problems["wrong"]
    assert problems["crashes"].startswith("node pack 'crashes = qo_broken_pack:pack' was not")


async def _noop(params: dict[str, Any], ctx: Any) -> None:
    return None


def _pack(*types: NodeType, handlers: dict[str, Any] | None = None) -> NodePack:
    return NodePack(
        name="t",
        node_types=types,
        handlers={t.name: _noop for t in types} if handlers is None else handlers,
    )


@pytest.mark.parametrize(
    ("pack", "message"),
    [
        (_pack(NodeType(name="Bad Name", category="x", description="")), "not a node type name"),
        (_pack(NodeType(name="core.noop", category="core", description="")), "already defined"),
        (_pack(NodeType(name="acme.a", category="other", description="")), "category 'acme'"),
        (
            _pack(NodeType(name="acme.a", category="acme", description="", params_schema={})),
            "params_schema",
        ),
        (_pack(NodeType(name="acme.a", category="acme", description=""), handlers={}), "handler"),
        (
            _pack(
                NodeType(name="acme.a", category="acme", description=""),
                handlers={"acme.a": _noop, "acme.b": _noop},
            ),
            "handlers without a node type: acme.b",
        ),
    ],
)
def test_malformed_packs_are_refused(pack: NodePack, message: str) -> None:
    with pytest.raises(NodePackError) as caught:
        check_pack(pack)
    assert message in caught.value.message
    assert caught.value.code == "node_pack_invalid"
    ok = check_pack(_pack(NodeType(name="acme.a", category="acme", description="")))
    with pytest.raises(NodePackError, match="already defined"):
        check_pack(ok, taken={"acme.a"})


class _NoTransport:
    """build_runtime only stores its transport; nothing is sent in this test."""


def test_agents_serving_the_built_ins_serve_the_pack(example_pack: Path) -> None:
    transport: AgentTransport = _NoTransport()  # type: ignore[assignment]
    runtime = build_runtime([], transport=transport, pool="remote")
    names = {c["name"] for c in runtime.registration["capabilities"]}
    assert {"specialized.http_request", "example.slugify", "example.word_count"} <= names


@pytest.fixture
async def pack_server(example_pack: Path, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A server (with built-in agents) started after the pack was installed."""
    async with (
        live_app(settings) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as client,
    ):
        yield client


def _spec(name: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {"id": "slug", "type": "example.slugify", "params": params},
            {
                "id": "count",
                "type": "example.word_count",
                "params": {"text": "{{ inputs.title }} {{ inputs.title }}", "top": 1},
            },
        ],
        "connections": [{"from": "slug", "to": "count"}],
    }


async def test_the_server_offers_validates_and_runs_pack_types(
    pack_server: httpx.AsyncClient,
) -> None:
    http = pack_server
    listing = (await http.get(f"{API}/node-types")).json()["items"]
    by_name = {item["type"]: item for item in listing}
    slugify = by_name["example.slugify"]
    assert slugify["category"] == "example"
    assert slugify["builtin"] is False
    assert slugify["params_schema"]["required"] == ["text"]
    assert "URL slug" in slugify["description"]

    bad = await http.post(
        f"{API}/workflows", json={"spec": _spec("bad-pack", {"text": "x", "colour": "red"})}
    )
    assert bad.status_code == 422, bad.text
    assert "colour" in bad.text

    await create_and_deploy(http, _spec("pack", {"text": "{{ inputs.title }}"}))
    run = await start_run(http, "pack", {"title": "Crème Brûlée, Quickly!"})
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    outputs = {step["node_id"]: step["output"] for step in done["steps"]}
    assert outputs["slug"] == {"slug": "creme-brulee-quickly"}
    assert outputs["count"] == {"words": 6, "top": ["crème"]}


async def test_a_broken_pack_does_not_stop_the_server(
    broken_packs: None, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="quantum_orchestrator")
    async with (
        live_app(settings) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        listing = (await http.get(f"{API}/node-types")).json()["items"]
        assert "specialized.http_request" in {item["type"] for item in listing}
    messages = [r.getMessage() for r in caplog.records]
    assert any("this pack is broken on purpose" in m for m in messages), messages


async def test_qo_agent_runs_pack_types(
    example_pack: Path, settings: Settings, tmp_path: Path
) -> None:
    """A separate ``qo agent`` process, with the pack installed, runs steps of its pool."""
    async with (
        live_app(settings) as app,
        httpx.AsyncClient(base_url=app.url, auth=app.auth, timeout=30) as http,
    ):
        token = await http.post(f"{API}/agent-tokens", json={"name": "remote", "pool": "remote"})
        assert token.status_code == 201, token.text
        spec = _spec("remote-pack", {"text": "Remote Agents"})
        for node in spec["nodes"]:
            node["pool"] = "remote"
        await create_and_deploy(http, spec)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("QO_")},
            "PYTHONPATH": os.pathsep.join([str(example_pack), *sys.path]),
            "QO_DATA_DIR": str(tmp_path / "agent-data"),
        }
        qo = Path(sys.executable).with_name("qo")
        log = (tmp_path / "agent.log").open("w")
        agent = subprocess.Popen(
            [
                str(qo),
                "agent",
                "--pool",
                "remote",
                "--server",
                app.url,
                "--token",
                token.json()["token"],
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            run = await start_run(http, "remote-pack", {"title": "a b a"})
            done = await wait_run(http, run["id"], timeout=30)
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(timeout=5)
            log.close()
        assert done["state"] == "succeeded", (done, (tmp_path / "agent.log").read_text())
        outputs = {step["node_id"]: step["output"] for step in done["steps"]}
        assert outputs["slug"] == {"slug": "remote-agents"}
        assert outputs["count"] == {"words": 6, "top": ["a"]}
