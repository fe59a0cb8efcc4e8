"""Checks JSON-like values against the types a manifest declares (`api.property`, and the
`property` of each message in `api.cmd_in`, `api.data_out`, ...).

Mirrors the real runtime: no string-to-number conversion, integer ranges by declared width,
ints accepted (and widened) where a float is declared, `required` properties enforced.
An empty-string key in an object the schema validates is not a misfit but a crash of the
real runtime's schema code (an assertion: SIGABRT); `empty_key_path` finds one.
"""

from __future__ import annotations

from typing import Any

INT_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
FLOAT32_MAX = 3.4028234663852886e38


class ValueTypeError(ValueError):
    """A value that does not fit its declared type; the message names the path."""


def json_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (bytes, bytearray)):
        return "buf"
    return "null" if value is None else type(value).__name__


def conform(value: Any, declared: dict[str, Any], path: str) -> Any:
    """Returns `value` as the declared type holds it (ints widened to floats where a float is
    declared), or raises ValueTypeError naming `path`."""
    type_name = declared.get("type")
    if type_name in INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _unsupported(value, type_name, path)
        low, high = INT_RANGES[type_name]
        if not low <= value <= high:
            raise ValueTypeError(f"{path}: {value} is out of the range of `{type_name}`")
        return value
    if type_name in ("float32", "float64"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _unsupported(value, type_name, path)
        if type_name == "float32" and abs(value) > FLOAT32_MAX:
            raise ValueTypeError(f"{path}: {value} is out of the range of `float32`")
        return float(value)
    if type_name == "bool":
        if not isinstance(value, bool):
            raise _unsupported(value, type_name, path)
        return value
    if type_name == "string":
        if not isinstance(value, str):
            raise _unsupported(value, type_name, path)
        return value
    if type_name == "array":
        if not isinstance(value, list):
            raise _unsupported(value, type_name, path)
        items = declared.get("items")
        if not items:
            return value
        return [conform(item, items, f"{path}[{index}]") for index, item in enumerate(value)]
    if type_name == "object":
        if not isinstance(value, dict):
            raise _unsupported(value, type_name, path)
        return conform_object(value, declared, path)
    if type_name == "buf":
        if not isinstance(value, (bytes, bytearray)):
            raise _unsupported(value, type_name, path)
        return value
    # `ptr` (and anything unknown) cannot come from JSON; the stand-in leaves it unchecked.
    return value


def conform_object(value: dict[str, Any], schema: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Checks an object against `{"properties": {...}, "required": [...]}`; undeclared keys
    pass unchanged. Returns a new dict with conformed values."""
    declared_props: dict[str, Any] = schema.get("properties") or {}
    for required in schema.get("required") or ():
        if required not in value:
            raise ValueTypeError(f"{_join(path, required)}: required property is missing")
    result = dict(value)
    for key, declared in declared_props.items():
        if key in value:
            result[key] = conform(value[key], declared, _join(path, key))
    return result


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unsupported(value: Any, type_name: str, path: str) -> ValueTypeError:
    return ValueTypeError(
        f"{path}: unsupported conversion from `{json_type_name(value)}` to `{type_name}`"
    )


def empty_key_path(value: Any, schema: dict[str, Any], path: str = "") -> str | None:
    """Where an object that `schema` (an object schema) validates holds the key "": the
    object itself, or an object declared inside it (`type: object`, also as array items).
    None when there is none. Objects under undeclared keys are not validated."""
    if not isinstance(value, dict):
        return None
    if "" in value:
        return path or "(the message's property root)"
    for key, declared in (schema.get("properties") or {}).items():
        if key in value:
            found = _empty_key_in(value[key], declared, _join(path, key))
            if found is not None:
                return found
    return None


def _empty_key_in(value: Any, declared: dict[str, Any], path: str) -> str | None:
    type_name = declared.get("type")
    if type_name == "object":
        return empty_key_path(value, declared, path)
    if type_name == "array" and isinstance(value, list) and declared.get("items"):
        for index, item in enumerate(value):
            found = _empty_key_in(item, declared["items"], f"{path}[{index}]")
            if found is not None:
                return found
    return None
