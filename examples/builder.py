"""A workflow written in Python, deployed and run with the client.

qo login                          # once: the client uses the token it stores
python examples/builder.py        # against $QO_SERVER, else http://127.0.0.1:8787

A script without a login gives an API key instead (``qo api-keys create builder --role editor``)
in ``QO_TOKEN``.
"""

from __future__ import annotations

import asyncio
import json

from quantum_orchestrator import Client, Workflow


def build() -> Workflow:
    """A small pipeline: greet, wait a moment (a durable timer), then shout."""
    wf = Workflow(
        "greeting",
        description="Built with the Python builder.",
        inputs={"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]},
    )
    greet = wf.node("greet", "specialized.transform", value="Hello, {{ inputs.who }}")
    pause = wf.node("pause", "core.delay", seconds=0.1)
    shout = wf.node("shout", "specialized.transform", value="{{ nodes.greet.output | upper }}!")
    greet >> pause >> shout
    wf.output("message", "{{ nodes.shout.output }}")
    return wf


async def main() -> None:
    """Deploy the workflow, run it and print its outputs."""
    async with Client() as client:
        version = await client.deploy(build())
        run = await client.run("greeting", {"who": "builder"})
        done = await client.wait(run["id"], timeout=60)
        print(json.dumps({"version": version["number"], "state": done["state"], **done["outputs"]}))


if __name__ == "__main__":
    asyncio.run(main())
