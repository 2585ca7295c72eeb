"""The generated parts of the docs match the code they are generated from."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("generator", "document"),
    [("gen_configuration", "configuration.md"), ("gen_node_types", "workflow-spec.md")],
)
def test_generated_section_is_current(generator: str, document: str) -> None:
    module = _load(generator)
    text = (DOCS / document).read_text(encoding="utf-8")
    assert module.current_section(text) == module.generate(), (
        f"docs/{document} is out of date: run `python docs/{generator}.py --write`"
    )


def test_node_type_reference_is_current() -> None:
    module = _load("gen_node_types")
    text = (DOCS / "node-types.md").read_text(encoding="utf-8")
    assert text == module.generate_reference(), (
        "docs/node-types.md is out of date: run `python docs/gen_node_types.py --write`"
    )


def test_every_node_type_is_in_the_reference() -> None:
    from quantum_orchestrator.domain.node_types import BUILTIN_NODE_TYPES

    text = (DOCS / "node-types.md").read_text(encoding="utf-8")
    for node_type in BUILTIN_NODE_TYPES:
        assert f"### `{node_type.name}`" in text
        for param in node_type.params_schema.get("properties", {}):
            assert f"| `{param}` |" in text


def test_every_setting_is_documented() -> None:
    from quantum_orchestrator.settings import Settings

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        group = field.annotation
        fields = getattr(group, "model_fields", None)
        if fields is None:
            assert f"`QO_{name.upper()}`" in text
        else:
            for child in fields:
                assert f"`QO_{name.upper()}__{child.upper()}`" in text


def test_generation_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load("gen_configuration")
    before = module.generate()
    monkeypatch.setenv("QO_PORT", "9999")
    monkeypatch.setenv("QO_ENGINE__LEASE_SECONDS", "99")
    monkeypatch.setenv("XDG_DATA_HOME", "/elsewhere")
    assert module.generate() == before
