"""TEN property semantics, as the runtime applies them at start.

`${env:NAME}`, `${env:NAME|}` and `${env:NAME|fallback}` string values are replaced
(anywhere, nested objects and arrays too); a node's `property` is deep-merged over the
extension's property.json.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The runtime replaces a string only when the whole string is one placeholder.
_PLACEHOLDER = re.compile(r"\$\{env:([^|}]+)(?:\|([^}]*))?\}")
_SECRET_NAME = re.compile(r"key|secret|token|cert|password|passwd", re.IGNORECASE)


@dataclass(frozen=True)
class EnvUse:
    """One placeholder: where it is, which variable, its fallback, and the variable's value."""

    path: str
    text: str
    var: str
    fallback: str | None  # None: no `|`, so an unset variable stops the app
    value: str | None  # None: the variable is unset

    @property
    def stops_app(self) -> bool:
        return self.value is None and self.fallback is None

    @property
    def result(self) -> str:
        if self.value is not None:
            return self.value
        return self.fallback or ""


@dataclass
class Resolved:
    value: Any
    uses: list[EnvUse] = field(default_factory=list)

    def missing(self) -> list[EnvUse]:
        return [use for use in self.uses if use.stops_app]


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def resolve_env(value: Any, env: Mapping[str, str], path: str = "") -> Resolved:
    """The value with every placeholder replaced; unset variables without fallback give ""."""
    uses: list[EnvUse] = []

    def walk(item: Any, at: str) -> Any:
        if isinstance(item, str):
            match = _PLACEHOLDER.fullmatch(item)
            if not match:
                return item
            var = match.group(1)
            use = EnvUse(at, item, var, match.group(2), env.get(var))
            uses.append(use)
            return use.result
        if isinstance(item, Mapping):
            return {key: walk(child, join(at, key)) for key, child in item.items()}
        if isinstance(item, list):
            return [walk(child, join(at, index)) for index, child in enumerate(item)]
        return item

    return Resolved(walk(value, path), uses)


def deep_merge(base: Any, override: Any) -> Any:
    """Objects merge key by key; any other value replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        return merge_objects(base, override)
    return override


def merge_objects(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """deep_merge of two objects, which is an object."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = deep_merge(base[key], value) if key in base else value
    return merged


def object_at(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`document[key]` when it is an object, else an empty one."""
    value = document.get(key)
    return value if isinstance(value, Mapping) else {}


def defines(value: Any, path: str) -> bool:
    """Whether a property object sets the dotted `path` (arrays count as one value)."""
    for key in path.split("."):
        if not isinstance(value, Mapping) or key.split("[")[0] not in value:
            return False
        value = value[key.split("[")[0]]
    return True


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_values(resolved: Resolved) -> set[str]:
    """Values that look secret by their property or variable name, for masking."""
    found: set[str] = set()

    def walk(item: Any, key: str) -> None:
        if isinstance(item, Mapping):
            for child_key, child in item.items():
                walk(child, str(child_key))
        elif isinstance(item, list):
            for child in item:
                walk(child, key)
        elif isinstance(item, str) and is_secret_name(key):
            found.add(item)

    walk(resolved.value, "")
    found.update(use.result for use in resolved.uses if is_secret_name(use.var))
    return found


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as in a .env file (comments, blank lines, `export`, quotes).

    Hand-written rather than python-dotenv: `check` must run where only the extension's
    runtime requirements are installed, and this subset is all a TEN app's .env uses.
    """
    variables: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{path}:{number}: not a KEY=VALUE line")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        variables[name] = value
    return variables
