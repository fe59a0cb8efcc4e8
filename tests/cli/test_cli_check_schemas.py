"""`check --schema-dir` reads TEN's own schema folder as it is: `//` and `/* */` comments
(outside strings only), definitions that live in shared-definitions.schema.json, and a
clear note instead of a traceback when the folder cannot be used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spatius_avatar_python.cli import main
from spatius_avatar_python.cli.paths import schema_dir
from spatius_avatar_python.cli.ten_schemas import read_schema_file

REPO = Path(__file__).resolve().parents[2]
GRAPH = REPO / "examples" / "graph.json"
ENV = {
    "SPATIUS_API_KEY": "sk-live-schema-test-0001",
    "SPATIUS_APP_ID": "app-test",
    "SPATIUS_AVATAR_ID": "avatar-test",
    "AGORA_APP_ID": "0123456789abcdef0123456789abcdef",
    "AGORA_APP_CERTIFICATE": "fedcba9876543210fedcba9876543210",
}

# A small schema folder written like TEN's: comments everywhere, strings that contain
# comment markers, and the manifest's value types defined only in the shared file.
MANIFEST = """{
  // TEN-style line comment
  "$schema": "http://json-schema.org/draft-07/schema#",
  /* a block comment
     over two lines */
  "type": "object",
  "properties": {
    "name": {"type": "string", "pattern": "^[^/]*$"}, // names have no slash
    "api": {"type": "object", "properties": {"property": {"type": "object", "properties": {
      "properties": {"type": "object", "additionalProperties": {"$ref": "#/$defs/valueType"}}}}}}
  },
  "required": ["name"]
}"""
SHARED = """{
  "$id": "shared-definitions.schema.json",
  "description": "a string with // and /* inside */ is not a comment: https://example.org/x",
  "$defs": {
    "valueType": {
      "type": "object",
      "properties": {"type": {"enum": [%s]}}  // the allowed declared types
    }
  }
}"""
PROPERTY = """{
  "$schema": "http://json-schema.org/draft-07/schema#", // property files
  "type": "object"
}"""
GRAPH_SCHEMA = """{
  "$schema": "http://json-schema.org/draft-07/schema#",
  /* nodes need a name of word characters */
  "type": "object",
  "properties": {"nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
  "$defs": {"node": {"type": "object", "required": ["name"],
                     "properties": {"name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}}}}
}"""
ALL_TYPES = '"bool", "int32", "string", "object", "array"'


def ten_style_folder(folder: Path, types: str = ALL_TYPES, shared: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.schema.json").write_text(MANIFEST)
    (folder / "property.schema.json").write_text(PROPERTY)
    (folder / "graph.schema.json").write_text(GRAPH_SCHEMA)
    if shared:
        (folder / "shared-definitions.schema.json").write_text(SHARED % types)
    return folder


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def run_check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str]]:
    code = main(["check", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


def test_comments_are_stripped_outside_strings_only(tmp_path: Path) -> None:
    folder = ten_style_folder(tmp_path / "data")
    shared = read_schema_file(folder / "shared-definitions.schema.json")
    assert (
        shared["description"]
        == "a string with // and /* inside */ is not a comment: https://example.org/x"
    )
    assert (
        read_schema_file(folder / "manifest.schema.json")["properties"]["name"]["pattern"]
        == "^[^/]*$"
    )


def test_a_ten_style_schema_folder_is_used_as_it_is(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(capsys, GRAPH, "--schema-dir", ten_style_folder(tmp_path / "data"))
    assert code == 0, "\n".join(lines)
    assert "TEN schemas" in lines[-1] and not any("schema check skipped" in line for line in lines)


def test_the_manifest_is_checked_with_the_shared_definitions(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shared file allows no int32: our manifest (which declares int32 numbers) must fail,
    # which it can only if the manifest's $ref reached the shared definition.
    folder = ten_style_folder(tmp_path / "data", types='"bool", "string", "object", "array"')
    code, lines = run_check(capsys, GRAPH, "--schema-dir", folder)
    assert code == 1
    problems = [
        line for line in lines if line.startswith("ERROR manifest.json /api/property/properties/")
    ]
    assert problems and all("(TEN manifest schema)" in line for line in problems), "\n".join(lines)
    assert any("'int32' is not one of" in line for line in problems)


def test_a_graph_schema_in_the_folder_checks_bare_graphs(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = json.loads(GRAPH.read_text())
    graph["nodes"][0]["name"] = "tts-1"
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path, "--schema-dir", ten_style_folder(tmp_path / "data"))
    assert code == 1
    assert any(
        "/nodes/0 (tts-1)/name: 'tts-1' does not match" in line and "(TEN graph schema)" in line
        for line in lines
    ), "\n".join(lines)


def test_missing_shared_definitions_are_a_note_not_a_traceback(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = ten_style_folder(tmp_path / "data", shared=False)
    code, lines = run_check(capsys, GRAPH, "--schema-dir", folder)
    assert code == 0  # the rest of the check ran and found nothing
    (note,) = [line for line in lines if line.startswith("NOTE TEN schema check skipped: ")]
    assert "valueType" in note and "shared-definitions.schema.json" in note
    assert "core/src/ten_rust/src/json_schema/data/" in note


def test_a_broken_schema_file_is_a_note_naming_it(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = ten_style_folder(tmp_path / "data")
    (folder / "property.schema.json").write_text('{"type": "object", // unclosed\n')
    code, lines = run_check(capsys, GRAPH, "--schema-dir", folder)
    assert code == 0
    (note,) = [line for line in lines if line.startswith("NOTE TEN schema check skipped: ")]
    assert "property.schema.json is neither JSON nor JSON with comments" in note


def test_without_schemas_the_note_says_where_to_get_them(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(capsys, GRAPH, "--schema-dir", tmp_path / "none")
    assert code == 0
    (note,) = [line for line in lines if line.startswith("NOTE TEN schema check skipped: ")]
    assert (
        "github.com/TEN-framework/ten-framework" in note
        and "core/src/ten_rust/src/json_schema/data/" in note
    )
    assert "--schema-dir" in note and "TEN_SCHEMA_DIR" in note


def test_the_schema_folder_can_come_from_the_environment(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEN_SCHEMA_DIR", str(ten_style_folder(tmp_path / "data")))
    code, lines = run_check(capsys, GRAPH)
    assert code == 0 and "TEN schemas" in lines[-1], "\n".join(lines)


@pytest.mark.ten_schemas
def test_the_official_schemas_with_ten_style_comments_give_the_same_result(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The official files as a TEN checkout has them: with comments between the members.
    folder = tmp_path / "data"
    folder.mkdir()
    official = schema_dir()
    assert official is not None  # the ten_schemas mark skips this test without one
    for source in official.glob("*.schema.json"):
        text = source.read_text()
        commented = text.replace("{\n", "{\n  // a TEN-style comment\n", 3).replace(
            ",\n", ", /* block */\n", 5
        )
        assert commented != text
        (folder / source.name).write_text(commented)
    broken = REPO / "tests" / "cli" / "broken" / "node_without_addon.json"
    results = []
    for directory in (official, folder):
        for path in (GRAPH, broken):
            results.append(run_check(capsys, path, "--schema-dir", directory))
    plain, plain_broken, commented_ok, commented_broken = results
    assert plain[0] == 0 and "TEN schemas" in plain[1][-1]
    assert [line for line in commented_ok[1]] == [line for line in plain[1]]
    assert commented_broken[0] == plain_broken[0] == 1
    assert commented_broken[1][:-1] == plain_broken[1][:-1]
    shutil.rmtree(folder)
