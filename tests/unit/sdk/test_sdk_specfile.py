"""Loading spec files: YAML and JSON, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantum_orchestrator.sdk import SpecFileError, load_document, load_spec, parse_spec

GOOD_YAML = """\
name: digest
description: Fetch and shape.
nodes:
  - id: fetch
    type: specialized.http_request
    params:
      url: "{{ inputs.url }}"
  - id: shape
    type: specialized.transform
connections:
  - from: fetch
    to: shape
"""


def test_loads_yaml(tmp_path: Path) -> None:
    path = tmp_path / "digest.yaml"
    path.write_text(GOOD_YAML)
    spec = load_spec(path)
    assert spec["name"] == "digest"
    assert spec["connections"] == [{"from": "fetch", "to": "shape"}]
    assert spec["nodes"][0]["params"] == {"url": "{{ inputs.url }}"}


def test_loads_json_and_upstream_format(tmp_path: Path) -> None:
    path = tmp_path / "up.json"
    path.write_text(
        '{"name": "up", "nodes": [{"id": "a", "name": "A", "type": "core.noop", '
        '"position": [0, 0]}], "connections": []}'
    )
    assert load_spec(path)["nodes"][0] == {
        "id": "a",
        "name": "A",
        "type": "core.noop",
        "position": [0, 0],
    }


def test_unknown_extension_guesses_from_content(tmp_path: Path) -> None:
    as_json = tmp_path / "spec.txt"
    as_json.write_text('  {"name": "j", "nodes": []}')
    as_yaml = tmp_path / "spec"
    as_yaml.write_text(GOOD_YAML)
    assert load_spec(as_json)["name"] == "j"
    assert load_spec(as_yaml)["name"] == "digest"


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nnodes:\n  - id: a\n    type: [unclosed\n")
    with pytest.raises(SpecFileError) as info:
        load_spec(path)
    assert info.value.source == str(path)
    assert info.value.line == 5
    assert str(info.value).startswith(f"{path}:5:")
    assert "invalid YAML" in str(info.value)


def test_yaml_bad_indentation_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "indent.yml"
    path.write_text("name: x\nnodes:\n  - id: a\n   type: core.noop\n")
    with pytest.raises(SpecFileError) as info:
        load_spec(path)
    assert info.value.line == 4


def test_yaml_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\nnodes: []\nname: b\n")
    with pytest.raises(SpecFileError, match=r"dup\.yaml:3:1: invalid YAML: duplicate key 'name'"):
        load_spec(path)


def test_json_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "x",\n  "nodes": [,]\n}\n')
    with pytest.raises(SpecFileError) as info:
        load_spec(path)
    assert (info.value.line, info.value.column) == (3, 13)
    assert str(info.value) == f"{path}:3:13: invalid JSON: Expecting value"


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a str"), ("~\n", "nothing"), ("3\n", "a int")],
)
def test_not_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(SpecFileError, match=f"must be a mapping .*found {found}"):
        load_spec(path)


def test_missing_file_directory_empty_and_binary(tmp_path: Path) -> None:
    with pytest.raises(SpecFileError, match=r"nope\.yaml: no such file"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecFileError, match="is a directory"):
        load_spec(tmp_path)
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n  \n")
    with pytest.raises(SpecFileError, match="empty"):
        load_spec(empty)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(SpecFileError, match="not UTF-8"):
        load_spec(binary)


def test_yaml_values_become_json_compatible() -> None:
    spec = parse_spec("name: d\nwhen: 2024-05-01\n1: one\n", source="x")
    assert spec == {"name": "d", "when": "2024-05-01", "1": "one"}


def test_load_document_names_what_it_expected(tmp_path: Path) -> None:
    path = tmp_path / "inputs.yaml"
    path.write_text("- 1\n")
    with pytest.raises(SpecFileError, match="an inputs file must be a mapping"):
        load_document(path, what="an inputs file")
