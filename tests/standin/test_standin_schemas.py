"""The repository's manifest.json, property.json and every graph JSON it ships validate
against the official TEN schemas: $TEN_SCHEMA_DIR, else <repo>/../shared/schemas/ten/ (read
as TEN reads them: comments allowed, shared definitions merged). Where the files are
absent these tests are skipped, the one skip CI allows (tests/schema_skips.py)."""

import json
from pathlib import Path

import jsonschema
import pytest

from spatius_avatar_python.cli.paths import schema_dir
from spatius_avatar_python.cli.ten_schemas import load_schema_documents

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.ten_schemas


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def manifest_validator() -> jsonschema.Draft7Validator:
    """The manifest schema with the shared definitions merged into its $defs."""
    return jsonschema.Draft7Validator(load_schema_documents(schema_dir())["manifest"])


def property_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(load_schema_documents(schema_dir())["property"])


def graph_validator() -> jsonschema.Draft7Validator:
    """A bare graph ({"nodes", "connections"}) as the property schema's predefined graphs
    define it."""
    schema = load_schema_documents(schema_dir())["property"]
    predefined = schema["$defs"]["tenConfiguration"]["properties"]["predefined_graphs"]
    graph = predefined["items"]["properties"]["graph"]
    return jsonschema.Draft7Validator({"$defs": schema["$defs"], **graph, "required": ["nodes"]})


def errors_of(validator: jsonschema.Draft7Validator, document: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_manifest_validates():
    assert errors_of(manifest_validator(), load(REPO / "manifest.json")) == []


def test_property_json_validates():
    assert errors_of(property_validator(), load(REPO / "property.json")) == []


def test_the_validators_do_reject_broken_documents():
    manifest = load(REPO / "manifest.json")
    manifest["api"]["cmd_in"].append({"name": "bad name"})
    assert errors_of(manifest_validator(), manifest)
    assert errors_of(property_validator(), {"x": None})
    assert errors_of(graph_validator(), {"nodes": [{"type": "extension", "name": "a"}]})


def test_graph_validator_accepts_a_graph_with_both_connection_forms():
    graph = {
        "nodes": [
            {"type": "extension", "name": "tts", "addon": "fake_tts", "property": {}},
            {"type": "extension", "name": "avatar", "addon": "spatius_avatar_python"},
        ],
        "connections": [
            {
                "extension": "tts",
                "audio_frame": [{"name": "pcm_frame", "dest": [{"extension": "avatar"}]}],
            },
            {
                "extension": "avatar",
                "data": [{"names": ["tts_audio_start"], "source": [{"extension": "tts"}]}],
            },
        ],
    }
    assert errors_of(graph_validator(), graph) == []


def ten_graph_files() -> list[Path]:
    """examples/**/*.json that are TEN graphs: a bare graph ("nodes") or an app
    property.json ("ten" / "_ten" with predefined graphs). Other JSON (e.g. a Convo AI
    request body) is not a TEN document."""
    examples = REPO / "examples"
    found = []
    for path in sorted(examples.glob("**/*.json")) if examples.is_dir() else []:
        document = load(path)
        if isinstance(document, dict) and ({"nodes", "ten", "_ten"} & document.keys()):
            found.append(path)
    return found


GRAPH_FILES = ten_graph_files()


@pytest.mark.parametrize("path", GRAPH_FILES, ids=[str(p.relative_to(REPO)) for p in GRAPH_FILES])
def test_shipped_graph_json_validates(path: Path):
    document = load(path)
    if "nodes" in document:
        assert errors_of(graph_validator(), document) == []
    else:
        assert errors_of(property_validator(), document) == []
