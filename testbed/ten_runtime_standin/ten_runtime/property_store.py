"""A JSON-like property object addressed by paths such as `params.sample_rate` or `a[0].b`.

Used for an extension's properties and for every message's properties, with the exact
results of the real runtime's getters: a missing path gives the type's zero value and an
error with code 100000; a wrong type gives `(0, None)` from the int getter, `(None, None)`
from the string getter and an error (code 1) from the bool, float and buf getters.

JSON set with `set_property_from_json` is held as the real runtime holds it: its C core
keeps keys and strings as C strings, so each is cut at its first U+0000 (`{"a\\u0000b": 1}`
reads back as `{"a": 1}`). Two keys of one object that are then equal (`"a\\u0000x"` and
`"a"`, `"\\u0000"` and `""`, or a key written twice in the JSON text) are both kept; the
typed getters read the first, and reading that object (or anything holding it) as JSON
fails an assertion in the real runtime (`ten_json_object_set ... Should not happen`,
SIGABRT): here `get_json` raises `aborts.ProcessAborted`. So does an integer above int64
(up to 2**64 - 1), which the core holds as uint64 and cannot write as JSON (its assertion
"The value is too large to convert to int64"); the int getter refuses it. Integers beyond
uint64 (or below int64) become floats; `NaN`, `Infinity` and numbers beyond a double are
refused as invalid JSON (code 2).
"""

from __future__ import annotations

import base64
import json
import itertools
import math
import re
from functools import lru_cache
from typing import Any

from .aborts import abort_process
from .error import TenError, generic_error, not_found_error

_MISSING = object()
# A path is keys separated by dots, each key optionally followed by [index] parts.
_PATH = re.compile(r"[^.\[\]]+(\[\d+\])*(\.[^.\[\]]+(\[\d+\])*)*")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

PathPart = str | int


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[PathPart, ...]:
    """`a.b[2].c` -> ("a", "b", 2, "c"); raises ValueError on a malformed path."""
    if not _PATH.fullmatch(path):
        raise ValueError(f"malformed property path: {path!r}")
    return tuple(key if key else int(index) for key, index in _PART.findall(path))


class CollidingKeys(dict[str, Any]):
    """An object from JSON whose keys, cut at U+0000, collide: the first of each key's values
    (what the real getters read), and the keys as written."""

    made = 0  # how many were ever made: while none, reading JSON need not look for one

    def __init__(self, items: dict[str, Any], written_keys: list[str]) -> None:
        super().__init__(items)
        self.written_keys = written_keys
        CollidingKeys.made += 1


def _ten_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with its keys as the real runtime holds them (`json.loads`'
    object_pairs_hook)."""
    items: dict[str, Any] = {}
    collided = False
    for key, value in pairs:
        held = _c_string(key)
        if held in items:
            collided = True
        else:
            items[held] = value
    return CollidingKeys(items, [key for key, _ in pairs]) if collided else items


def _c_string(text: str) -> str:
    return text.partition("\x00")[0]


def _cut_strings(value: Any) -> Any:
    """Every string in `value` cut at its first U+0000 (dicts and lists changed in place)."""
    if isinstance(value, str):
        return _c_string(value)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _cut_strings(item)
    elif isinstance(value, list):
        value[:] = [_cut_strings(item) for item in value]
    return value


def _ten_json_loads(json_str: str) -> Any:
    value = json.loads(
        json_str,
        object_pairs_hook=_ten_object,
        parse_int=_ten_int,
        parse_float=_ten_float,
        parse_constant=_no_constant,
    )
    # A U+0000 can only be written escaped in JSON text: most texts need no second pass.
    return _cut_strings(value) if "\\u0000" in json_str else value


INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


class Uint64(int):
    """An integer from JSON above int64: the core holds it as uint64."""

    made = 0  # as CollidingKeys.made

    def __new__(cls, value: int) -> "Uint64":
        Uint64.made += 1
        return super().__new__(cls, value)


def _ten_int(digits: str) -> int | float:
    value = int(digits)
    if INT64_MIN <= value <= INT64_MAX:
        return value
    return Uint64(value) if 0 < value <= UINT64_MAX else float(value)


def _ten_float(digits: str) -> float:
    value = float(digits)
    if math.isinf(value):
        raise ValueError(f"number out of range: {digits}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def unwritable_value(value: Any) -> CollidingKeys | Uint64 | None:
    """The first value in `value` (itself included) the core cannot write as JSON: an
    object whose keys collide, or a uint64 above int64. None if there is none."""
    if isinstance(value, (CollidingKeys, Uint64)):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = unwritable_value(item)
        if found is not None:
            return found
    return None


def _unwritable_reason(path: str | None, value: CollidingKeys | Uint64) -> str:
    if isinstance(value, Uint64):
        what = f"an integer above int64 ({int(value)}), held as uint64"
        assertion = "ten_value_uint64_to_json ... The value is too large to convert to int64"
    else:
        what = f"an object with the keys {value.written_keys!r}, equal once cut at U+0000"
        assertion = "ten_json_object_set ... Should not happen"
    return (
        f"get_property_to_json({path!r}): {what}: the real runtime fails an assertion here "
        f"({assertion}) and aborts the whole process (SIGABRT)"
    )


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-like data; faster than copy.deepcopy on the message hot path."""
    if isinstance(value, dict):
        copied = {key: copy_json(item) for key, item in value.items()}
        if isinstance(value, CollidingKeys):  # a clone keeps both keys, as the real one
            return CollidingKeys(copied, value.written_keys)
        return copied
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    # Buffers set with set_property_buf have no JSON form; the stand-in shows them as base64.
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


class PropertyStore:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = data if data is not None else {}

    # -- plain access -------------------------------------------------------------------
    def lookup(self, path: str | None) -> Any:
        """The value at `path` (the whole object for None or ""), or _MISSING."""
        if not path:
            return self.data
        try:
            parts = parse_path(path)
        except ValueError:
            return _MISSING
        node: Any = self.data
        for part in parts:
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return _MISSING
            elif not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def exists(self, path: str | None) -> bool:
        return self.lookup(path) is not _MISSING

    def set(self, path: str | None, value: Any) -> TenError | None:
        if not path:
            if not isinstance(value, dict):
                return generic_error("the whole property must be a JSON object")
            self.data = value
            return None
        try:
            parts = parse_path(path)
        except ValueError as exc:
            return TenError(3, str(exc))
        node: Any = self.data
        for part, next_part in itertools.pairwise(parts):
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return generic_error(f"cannot set {path}: index {part} out of range")
                node = node[part]
                continue
            if not isinstance(node, dict):
                return generic_error(f"cannot set {path}: {part!r} is not inside an object")
            if part not in node or not isinstance(node[part], (dict, list)):
                node[part] = [] if isinstance(next_part, int) else {}
            node = node[part]
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list):
                return generic_error(f"cannot set {path}: not an array")
            if last < len(node):
                node[last] = value
            elif last == len(node):
                node.append(value)
            else:
                return generic_error(f"cannot set {path}: index {last} out of range")
        elif isinstance(node, dict):
            node[last] = value
        else:
            return generic_error(f"cannot set {path}: not inside an object")
        return None

    # -- JSON -----------------------------------------------------------------------------
    def get_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        value = self.lookup(path)
        if value is _MISSING:
            return "", not_found_error(path)
        unwritable = unwritable_value(value) if CollidingKeys.made or Uint64.made else None
        if unwritable is not None:
            raise abort_process(_unwritable_reason(path, unwritable))
        return to_json(value), None

    def set_json(self, path: str | None, json_str: str) -> TenError | None:
        try:
            value = _ten_json_loads(json_str)
        except (TypeError, ValueError) as exc:
            return TenError(2, f"invalid JSON: {exc}")
        return self.set(path, value)

    # -- typed getters (exact real-runtime results) ------------------------------------------
    def get_int(self, path: str) -> tuple[int, TenError | None]:
        value = self.lookup(path)
        if value is _MISSING:
            return 0, not_found_error(path)
        if isinstance(value, Uint64):
            return 0, generic_error(f"property {path} is a uint64 above int64")
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None
        return 0, None

    def get_string(self, path: str) -> tuple[str | None, TenError | None]:
        value = self.lookup(path)
        if value is _MISSING:
            return "", not_found_error(path)
        if isinstance(value, str):
            return value, None
        return None, None

    def get_bool(self, path: str) -> tuple[bool, TenError | None]:
        value = self.lookup(path)
        if value is _MISSING:
            return False, not_found_error(path)
        if isinstance(value, bool):
            return value, None
        return False, generic_error(f"property {path} is not a bool")

    def get_float(self, path: str) -> tuple[float, TenError | None]:
        value = self.lookup(path)
        if value is _MISSING:
            return 0.0, not_found_error(path)
        if isinstance(value, float):
            return value, None
        return 0.0, generic_error(f"property {path} is not a float")

    def get_buf(self, path: str) -> tuple[bytearray, TenError | None]:
        value = self.lookup(path)
        if value is _MISSING:
            return bytearray(), not_found_error(path)
        if isinstance(value, (bytes, bytearray)):
            return bytearray(value), None
        return bytearray(), generic_error(f"property {path} is not a buf")

    # -- typed setters -----------------------------------------------------------------------
    def set_int(self, path: str, value: int) -> TenError | None:
        return self.set(path, int(value))

    def set_string(self, path: str, value: str) -> TenError | None:
        return self.set(path, str(value))

    def set_bool(self, path: str, value: bool) -> TenError | None:
        return self.set(path, bool(value))

    def set_float(self, path: str, value: float) -> TenError | None:
        return self.set(path, float(value))

    def set_buf(self, path: str, value: bytes) -> TenError | None:
        return self.set(path, bytes(value))

    def copy(self) -> "PropertyStore":
        return PropertyStore(copy_json(self.data))
