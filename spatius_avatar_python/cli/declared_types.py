"""Property values against the types manifest.json `api.property` declares.

The TEN runtime checks them at start and converts nothing: a mismatch aborts the app.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from .findings import Finding, error, warning
from .properties import is_secret_name, join

INT_RANGES = {
    f"{sign}int{bits}": ((0, 2**bits - 1) if sign else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    for sign in ("", "u")
    for bits in (8, 16, 32, 64)
}
FLOAT_TYPES = ("float32", "float64")
ABORT = "the TEN runtime does not convert property types and aborts the app at start"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number with a fraction"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fits(value: Any, declared: str) -> bool:
    if declared == "string":
        return isinstance(value, str)
    if declared == "bool":
        return isinstance(value, bool)
    if declared in INT_RANGES:
        return isinstance(value, int) and not isinstance(value, bool)
    if declared in FLOAT_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if declared == "object":
        return isinstance(value, Mapping)
    if declared == "array":
        return isinstance(value, list)
    return False  # buf and ptr cannot be written in JSON


def _as_number(value: Any) -> int | float | None:
    """The number a mistyped value means (`"24000"` -> 24000), if it plainly is one."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value.strip())
            except ValueError:
                continue
    return None


def _how_to_write(
    path: str, declared: str, example: Any, given: Any = None, secret: bool = False
) -> str:
    """How to write `path`; the example is the user's own value, retyped, where it has one."""
    if declared in INT_RANGES or declared in FLOAT_TYPES:
        own = None if secret else _as_number(given)
        sample = (
            own
            if own is not None
            else (
                example
                if isinstance(example, (int, float)) and not isinstance(example, bool)
                else 0
            )
        )
        return (
            f"write {path} as a JSON number without quotes, e.g. {sample} "
            "(an ${env:...} placeholder always gives a string: never use one for a number)"
        )
    if declared == "bool":
        return f"write {path} as true or false, without quotes"
    if declared == "string":
        if not secret and isinstance(given, (int, float)) and not isinstance(given, bool):
            return f"write {path} in quotes as a JSON string: {json.dumps(str(given))}"
        return f'write {path} in quotes as a JSON string, e.g. "{example if isinstance(example, str) and example else "..."}"'
    return f"write {path} as a JSON {declared}"


def declared_type_findings(
    value: Any,
    declared: Mapping[str, Any],
    *,
    examples: Mapping[str, Any] | None = None,
    from_env: Collection[str] = (),
    path: str = "",
) -> list[Finding]:
    """Mismatches (errors) and undeclared properties (warnings) in `value`.

    `declared` is a schema as manifest.json writes it ({"type": ..., "properties": ...});
    `examples` maps paths to sample values for the fixes; `from_env` lists the paths whose
    value came from an ${env:...} placeholder.
    """
    examples = examples or {}
    kind = declared.get("type", "object")
    if not _fits(value, kind):
        what = f"is a JSON {json_type(value)} but manifest.json declares {kind}; {ABORT}"
        if path in from_env:
            what += " (the value comes from an ${env:...} placeholder, which always gives a string)"
        secret = is_secret_name(path.rsplit(".", 1)[-1])
        given = None if path in from_env else value  # a placeholder's value is the environment's
        return [error(path, what, _how_to_write(path, kind, examples.get(path), given, secret))]
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        if not low <= value <= high:
            return [
                error(
                    path,
                    f"{value} is out of the {kind} range ({low} to {high}); {ABORT}",
                    f"use a value from {low} to {high}",
                )
            ]
        return []
    findings: list[Finding] = []
    if kind == "object":
        properties = declared.get("properties", {})
        for key, child in value.items():
            child_path = join(path, key)
            if key in properties:
                findings += declared_type_findings(
                    child, properties[key], examples=examples, from_env=from_env, path=child_path
                )
            elif properties or path == "":
                findings.append(
                    warning(
                        child_path,
                        "is not declared in manifest.json and is ignored (a typo?)",
                        "remove it or correct its name",
                    )
                )
    elif kind == "array" and "items" in declared:
        for index, item in enumerate(value):
            findings += declared_type_findings(
                item,
                declared["items"],
                examples=examples,
                from_env=from_env,
                path=join(path, index),
            )
    return findings
