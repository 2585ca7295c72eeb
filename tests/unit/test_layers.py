"""The import contracts of pyproject's [tool.importlinter] hold, and name real modules."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["importlinter"]
    return config


def _internal_modules(contract: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("source_modules", "forbidden_modules", "layers", "modules"):
        for entry in contract.get(key, []):
            for name in str(entry).replace(":", "|").split("|"):
                name = name.strip().strip("()")
                if name.startswith("quantum_orchestrator"):
                    names.add(name)
    return names


def test_contracts_are_kept() -> None:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the dev extra (import-linter)")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output, output
    for contract in _config()["contracts"]:
        assert f"{contract['name']} KEPT" in output, output


def test_expected_contracts_exist() -> None:
    contracts = {contract["name"]: contract for contract in _config()["contracts"]}
    remote = contracts["agents and the SDK need only the server's URL"]
    assert set(remote["source_modules"]) == {
        "quantum_orchestrator.agents",
        "quantum_orchestrator.sdk",
    }
    assert {
        "quantum_orchestrator.store",
        "quantum_orchestrator.engine",
        "quantum_orchestrator.api",
        "quantum_orchestrator.cli",
    } <= set(remote["forbidden_modules"])
    pure = contracts["domain is pure"]
    assert {"fastapi", "sqlalchemy", "httpx"} <= set(pure["forbidden_modules"])
    assert contracts["layers"]["type"] == "layers"


def test_contracts_name_modules_that_exist() -> None:
    # A contract about a module that was renamed or removed is silently vacuous.
    for contract in _config()["contracts"]:
        for name in sorted(_internal_modules(contract)):
            assert importlib.util.find_spec(name) is not None, (contract["name"], name)


def test_the_linter_sees_real_imports(tmp_path: Path) -> None:
    # Guard against a vacuous run (wrong root package, empty graph): api imports engine, so a
    # contract forbidding it must break.
    config = tmp_path / "importlinter.toml"
    config.write_text(
        "[tool.importlinter]\n"
        'root_package = "quantum_orchestrator"\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "canary"\n'
        'type = "forbidden"\n'
        'source_modules = ["quantum_orchestrator.api"]\n'
        'forbidden_modules = ["quantum_orchestrator.engine"]\n'
    )
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "canary BROKEN" in result.stdout
