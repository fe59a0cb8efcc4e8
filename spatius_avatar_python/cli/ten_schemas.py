"""Validation against the official TEN JSON schemas, read from TEN's own schema folder as
it is (a TEN Framework checkout's `core/src/ten_rust/src/json_schema/data/`, whose files
carry `//` and `/* */` comments) or from a comment-free copy of it.

TEN resolves the `#/$defs/...` references of its manifest (and interface) schema against
`shared-definitions.schema.json`; so does this module, by merging that file's `$defs`
into each schema's (a schema's own definitions win). A bare graph is validated with
`graph.schema.json` where the folder has one, else with the property schema's definition of
a predefined graph.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .findings import Finding, error

_GRAPH_REF = "#/$defs/tenConfiguration/properties/predefined_graphs/items/properties/graph"
_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
_MAX_MESSAGE = 200
REQUIRED_FILES = ("manifest", "property")
SHARED_FILE = "shared-definitions"
GRAPH_FILE = "graph"
SCHEMA_DIR_VARIABLE = "TEN_SCHEMA_DIR"
# Where a user gets the files: the TEN Framework repository.
WHERE_TO_GET = (
    "they are in a TEN Framework checkout (github.com/TEN-framework/ten-framework), "
    "folder core/src/ten_rust/src/json_schema/data/"
)
HOW_TO_USE = f"pass that folder with --schema-dir, or set {SCHEMA_DIR_VARIABLE} to it"


def default_schema_dir() -> Path | None:
    """$TEN_SCHEMA_DIR when set, else None: the extension knows of no folder outside itself."""
    given = os.environ.get(SCHEMA_DIR_VARIABLE, "").strip()
    return Path(given).expanduser() if given else None


def schemas_absent(directory: Path | None, how_to_use: str = HOW_TO_USE) -> str | None:
    """Why the schema check cannot run from `directory` (with where to get the files), or None."""
    if directory is None:
        return f"no TEN schema folder given; {WHERE_TO_GET}: {how_to_use}"
    missing = [
        f"{name}.schema.json"
        for name in REQUIRED_FILES
        if not (directory / f"{name}.schema.json").is_file()
    ]
    if not missing:
        return None
    return f"no TEN schema files in {directory} ({', '.join(missing)} not found); {WHERE_TO_GET}: {how_to_use}"


class SchemaFileError(ValueError):
    """A schema file cannot be read; str() names the file and why."""


def read_schema_file(path: Path) -> Any:
    """A TEN schema file, comments and all (TEN reads its schemas as JSON5)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise SchemaFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _parse_schema_text(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _parse_schema_text(path: str, _mtime_ns: int, _size: int) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaFileError(f"cannot read {path}: {exc}") from exc
    try:
        return json.loads(text)  # a comment-free copy: the fast path
    except json.JSONDecodeError:
        pass
    try:
        import json5  # comments outside strings, as TEN's own loader (json5) accepts them
    except ImportError:
        raise SchemaFileError(
            f"{path} has comments, and reading them needs the json5 package (pip install -r requirements-dev.txt)"
        ) from None
    try:
        return json5.loads(text)
    except ValueError as exc:
        raise SchemaFileError(f"{path} is neither JSON nor JSON with comments: {exc}") from exc


@dataclass(frozen=True)
class TenSchemas:
    manifest: Any  # jsonschema validators
    property: Any
    graph: Any

    def check_manifest(self, document: Any, label: str) -> list[Finding]:
        return _findings(self.manifest, document, label, "TEN manifest schema")

    def check_property(self, document: Any, label: str) -> list[Finding]:
        return _findings(self.property, document, label, "TEN property schema")

    def check_graph(self, document: Any, label: str) -> list[Finding]:
        return _findings(self.graph, document, label, "TEN graph schema")


def load_schema_documents(directory: Path | None) -> dict[str, Any]:
    """{"manifest", "property", "graph"}: each schema with the shared definitions merged in.
    Raises SchemaFileError."""
    if (absent := schemas_absent(directory)) is not None or directory is None:
        raise SchemaFileError(absent or "no TEN schema folder given")
    shared_path = directory / f"{SHARED_FILE}.schema.json"
    shared = read_schema_file(shared_path).get("$defs", {}) if shared_path.is_file() else {}
    documents = {
        name: _with_defs(read_schema_file(directory / f"{name}.schema.json"), shared)
        for name in REQUIRED_FILES
    }
    graph_path = directory / f"{GRAPH_FILE}.schema.json"
    if graph_path.is_file():
        documents["graph"] = _with_defs(read_schema_file(graph_path), shared)
    else:
        prop = documents["property"]
        documents["graph"] = {
            "$schema": prop.get("$schema"),
            "$defs": prop.get("$defs", {}),
            "$ref": _GRAPH_REF,
        }
    for name, document in documents.items():
        if unresolved := sorted(_local_refs(document) - set(document.get("$defs", {}))):
            hint = (
                ""
                if shared_path.is_file()
                else f" ({SHARED_FILE}.schema.json, which defines them, is not in {directory})"
            )
            raise SchemaFileError(
                f"the {name} schema refers to definitions no schema file defines: "
                f"{', '.join(unresolved[:5])}{hint}; give the whole schema folder ({WHERE_TO_GET})"
            )
    return documents


def load_schemas(directory: Path | None) -> TenSchemas | str:
    """The validators, or why the schema check cannot run."""
    try:
        from jsonschema import Draft7Validator
    except ImportError:
        return "the jsonschema package is not installed (pip install -r requirements-dev.txt)"
    try:
        documents = load_schema_documents(directory)
    except SchemaFileError as exc:
        return str(exc)
    return TenSchemas(
        *(Draft7Validator(documents[name]) for name in ("manifest", "property", "graph"))
    )


def _with_defs(schema: Any, shared: Mapping[str, Any]) -> Any:
    if not isinstance(schema, dict):
        raise SchemaFileError("a TEN schema file holds a JSON object")
    return {**schema, "$defs": {**shared, **schema.get("$defs", {})}}


def _local_refs(value: Any) -> set[str]:
    """Names of the `#/$defs/<name>` definitions referred to anywhere in `value`."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref.split("/")[2])
        for child in value.values():
            found |= _local_refs(child)
    elif isinstance(value, list):
        for child in value:
            found |= _local_refs(child)
    return found


def _findings(validator: Any, document: Any, label: str, schema_name: str) -> list[Finding]:
    findings = []
    errors = sorted(
        validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]
    )
    for top in errors:
        for cause in _causes(top):
            where = f"{label} {_pointer(cause.absolute_path, document)}"
            findings.append(error(where, f"{_message(cause)} ({schema_name})", _fix(cause, where)))
    return findings


def _causes(err: Any) -> Iterator[Any]:
    """oneOf/anyOf errors name no cause: descend into the branch that failed least."""
    if not err.context or _only_type_errors(err):
        yield err
        return
    branches: dict[Any, list[Any]] = defaultdict(list)
    for sub in err.context:
        branches[sub.relative_schema_path[0]].append(sub)
    # A branch failing on a `const` is a different kind of thing (e.g. a subgraph node).
    plausible = [b for b in branches.values() if not any(e.validator == "const" for e in b)]
    best = min(plausible or list(branches.values()), key=len)
    for sub in best:
        yield from _causes(sub)


def _only_type_errors(err: Any) -> bool:
    return all(sub.validator == "type" for sub in err.context)


def _message(err: Any) -> str:
    if err.validator in ("anyOf", "oneOf") and err.context and _only_type_errors(err):
        allowed = sorted({t for sub in err.context for t in _as_list(sub.validator_value)})
        return f"a {_json_kind(err.instance)} is not allowed here (allowed: {', '.join(allowed)})"
    message = err.message
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _fix(err: Any, where: str) -> str:
    if err.validator == "required" and isinstance(err.instance, Mapping):
        missing = [name for name in err.validator_value if name not in err.instance]
        return f"add {', '.join(json.dumps(name) for name in missing)} to {where}"
    if err.validator == "additionalProperties":
        return "remove the unexpected property or correct its name"
    if err.validator == "pattern" and err.validator_value == _NAME_PATTERN:
        return "use only letters, digits and _, starting with a letter or _"
    if err.validator == "enum":
        return f"use one of {', '.join(json.dumps(v) for v in err.validator_value)}"
    if err.validator == "type" or (err.context and _only_type_errors(err)):
        return "write the value with an allowed JSON type"
    return "make it fit the TEN schema"


def _pointer(path: Any, document: Any) -> str:
    """A JSON pointer, with node names added where the path passes through `nodes`."""
    parts: list[str] = []
    node: Any = document
    for part in path:
        parts.append(str(part))
        named = ""
        if isinstance(node, (Mapping, list)):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
            if (
                len(parts) >= 2
                and parts[-2] == "nodes"
                and isinstance(node, Mapping)
                and node.get("name")
            ):
                named = f" ({node['name']})"
        if named:
            parts[-1] += named
    return "/" + "/".join(parts) if parts else "(root)"


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _json_kind(value: Any) -> str:
    return {type(None): "null", bool: "boolean", dict: "object", list: "array", str: "string"}.get(
        type(value), "number"
    )
