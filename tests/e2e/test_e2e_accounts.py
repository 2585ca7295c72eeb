"""Accounts with real ``qo`` processes: the first admin, a team workspace, an API key, a viewer.

The story of the issue, as a person would type it: ``qo up`` prints the generated password of
the first admin; they log in, create a workspace, invite a viewer, make an editor API key for a
script; the script deploys and runs with the key; the viewer may look but not change anything.
"""

from __future__ import annotations

import json
import re
import stat

import pytest
from tests.e2e.harness import Cluster, wait_for

pytestmark = pytest.mark.e2e

HELLO = """\
name: hello
inputs:
  type: object
  properties:
    who: {type: string}
  required: [who]
nodes:
  - id: greet
    type: specialized.transform
    params:
      value: "hello {{ inputs.who }}"
outputs:
  greeting: "{{ nodes.greet.output }}"
"""

ADMIN_LINE = re.compile(r"^Created the first admin: (\S+)$", re.MULTILINE)
PASSWORD_LINE = re.compile(r"^\s+password: (\S+)\s+\(shown once", re.MULTILINE)
VIEWER = "viewer@example.com"
VIEWER_PASSWORD = "viewer-password-e2e-1"


def no_traceback(*outputs: str) -> None:
    for output in outputs:
        assert "Traceback" not in output, output


@pytest.mark.timeout(180)
def test_admin_team_key_and_viewer(qo: Cluster) -> None:
    # `qo up` on an empty data dir with no QO_ADMIN_PASSWORD: it generates one and prints it.
    qo.admin_password = None
    server = qo.start_server()
    log = wait_for(
        lambda: server.log() if PASSWORD_LINE.search(server.log()) else None,
        "qo up to print the first admin's password",
        diagnose=server.tail,
    )
    admin_match = ADMIN_LINE.search(log)
    password_match = PASSWORD_LINE.search(log)
    assert admin_match is not None
    assert password_match is not None
    admin, password = admin_match.group(1), password_match.group(1)
    assert f"qo login --server {qo.url} --email {admin}" in log
    assert qo.token is None  # the CLI is on its own: no QO_TOKEN from the harness

    # Nothing works before logging in, and the error says what to do.
    anonymous = qo.qo("runs", "list")
    assert anonymous.returncode == 1
    assert "run `qo login`" in anonymous.stderr
    no_traceback(anonymous.stderr)

    logged_in = qo.qo("login", "--email", admin, "--password-stdin", input=password + "\n")
    assert logged_in.returncode == 0, logged_in.stderr
    assert logged_in.stdout.splitlines() == [
        f"logged in to {qo.url} as {admin}",
        "workspace: default (role owner)",
    ]
    credentials = qo.config_home / "quantum-orchestrator" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert password not in credentials.read_text()

    created = qo.qo("workspaces", "create", "Team A")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created workspace Team A (slug team-a, id ")
    team = ("--workspace", "team-a")

    added = qo.qo(
        "members",
        "add",
        VIEWER,
        "--role",
        "viewer",
        "--password-stdin",
        *team,
        input=VIEWER_PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"added {VIEWER} as viewer")
    members = json.loads(qo.qo("members", "list", *team, "--json").stdout)
    assert {m["email"]: m["role"] for m in members} == {admin: "owner", VIEWER: "viewer"}

    issued = qo.qo("api-keys", "create", "deployer", "--role", "editor", *team)
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip()
    assert key.startswith("qo_k_")
    assert "it is not shown again" in issued.stderr
    listed_keys = qo.qo("api-keys", "list", *team)
    assert listed_keys.returncode == 0, listed_keys.stderr
    assert "deployer" in listed_keys.stdout
    assert key not in listed_keys.stdout

    # A script with the key: deploys and runs in Team A, with no login at all.
    qo.write("hello.yaml", HELLO)
    as_script = {"QO_TOKEN": key, "XDG_CONFIG_HOME": str(qo.root / "nobody")}
    deployed = qo.qo("workflow", "deploy", "hello.yaml", env=as_script)
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.strip() == "deployed hello version 1"
    ran = qo.qo("run", "hello", "--input", "who=key", "--wait", env=as_script)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout) == {"greeting": "hello key"}
    # The admin's default workspace knows nothing of it.
    default_runs = json.loads(qo.qo("runs", "list", "--json").stdout)["items"]
    assert default_runs == []

    # The viewer logs in (replacing the admin's stored session for this server).
    viewer = qo.qo("login", "--email", VIEWER, "--password-stdin", input=VIEWER_PASSWORD + "\n")
    assert viewer.returncode == 0, viewer.stderr
    assert viewer.stdout.splitlines() == [
        f"logged in to {qo.url} as {VIEWER}",
        "workspace: team-a (role viewer)",
    ]
    refused_deploy = qo.qo("workflow", "deploy", "hello.yaml")
    assert refused_deploy.returncode == 1, refused_deploy.stdout
    assert refused_deploy.stderr == (
        "error: your role viewer may not do this (it needs workflows:write) (HTTP 403 forbidden)\n"
    )
    refused_run = qo.qo("run", "hello", "--input", "who=viewer", "--wait")
    assert refused_run.returncode == 1, refused_run.stdout
    assert refused_run.stderr == (
        "error: your role viewer may not do this (it needs runs:write) (HTTP 403 forbidden)\n"
    )
    assert refused_run.stdout == ""
    refused_key = qo.qo("api-keys", "create", "mine", "--role", "viewer")
    assert refused_key.returncode == 1
    assert "it needs keys:write" in refused_key.stderr
    runs = qo.qo("runs", "list")
    assert runs.returncode == 0, runs.stderr
    assert re.search(r"\bhello\s+1\s+succeeded\b", runs.stdout), runs.stdout
    no_traceback(refused_deploy.stderr, refused_run.stderr, refused_key.stderr, runs.stderr)

    # Logging out ends the session on the server too: the old token no longer works.
    stored = json.loads(credentials.read_text())["servers"][qo.url]["token"]
    out = qo.qo("logout")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"logged out of {qo.url}\n"
    after = qo.qo("runs", "list", env={"QO_TOKEN": stored})
    assert after.returncode == 1
    assert "run `qo login`" in after.stderr


@pytest.mark.timeout(120)
def test_agents_need_an_agent_token_of_their_pool(qo: Cluster) -> None:
    qo.start_server()
    bogus = qo.qo("agent", "--import", "tasks.py", env={"QO_AGENT_TOKEN": "qo_a_not-a-real-token"})
    assert bogus.returncode == 1, bogus.stdout + bogus.stderr
    assert f"the server at {qo.url} refused the agent token" in bogus.stderr
    assert "qo agent-tokens create NAME --pool e2e" in bogus.stderr
    other_pool = qo.qo(
        "agent", "--import", "tasks.py", "--token", qo.agent_token("elsewhere"), timeout=60
    )
    assert other_pool.returncode == 1
    assert "this agent token is for the pool 'elsewhere', not 'e2e'" in other_pool.stderr
    # A person's login is not an agent's credential.
    login = qo.qo("agent", "--import", "tasks.py")
    assert login.returncode == 1
    assert "must be an agent token (qo_a_...)" in login.stderr
    no_traceback(bogus.stderr, other_pool.stderr, login.stderr)

    # An agent token made with the CLI works.
    made = qo.qo("agent-tokens", "create", "workers", "--pool", "e2e")
    assert made.returncode == 0, made.stderr
    agent = qo.spawn(
        "agent-cli-token",
        "agent",
        "--import",
        "tasks.py",
        "--name",
        "cli-token",
        env={"QO_AGENT_TOKEN": made.stdout.strip()},
    )
    assert qo.wait_agent("cli-token", "online", proc=agent)["pool"] == "e2e"
