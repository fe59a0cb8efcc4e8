"""Validation against the official TEN JSON schemas (when the project's shared/ is present)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .findings import Finding, error

_GRAPH_REF = "#/$defs/tenConfiguration/properties/predefined_graphs/items/properties/graph"
_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
_MAX_MESSAGE = 200


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


def load_schemas(directory: Path) -> TenSchemas | str:
    """The validators, or why the schema check cannot run."""
    files = {name: directory / f"{name}.schema.json" for name in ("manifest", "property", "shared-definitions")}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        return f"{missing[0]} not found (the schemas come with the project's shared/ folder)"
    try:
        from jsonschema import Draft7Validator
    except ImportError:
        return "the jsonschema package is not installed (pip install -r requirements-dev.txt)"
    loaded = {name: json.loads(path.read_text(encoding="utf-8")) for name, path in files.items()}
    manifest = dict(loaded["manifest"])
    # The manifest schema refers to definitions that live in the shared file.
    manifest["$defs"] = {**loaded["shared-definitions"]["$defs"], **manifest.get("$defs", {})}
    prop = loaded["property"]
    graph = {"$schema": prop.get("$schema"), "$defs": prop["$defs"], "$ref": _GRAPH_REF}
    return TenSchemas(Draft7Validator(manifest), Draft7Validator(prop), Draft7Validator(graph))


def _findings(validator: Any, document: Any, label: str, schema_name: str) -> list[Finding]:
    findings = []
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
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
    return "make it fit the TEN schema (../shared/schemas/ten/)"


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
            if len(parts) >= 2 and parts[-2] == "nodes" and isinstance(node, Mapping) and node.get("name"):
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
