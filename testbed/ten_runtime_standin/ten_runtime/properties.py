"""An extension's properties as a TEN app loads them: `property.json` with `${env:...}`
placeholders resolved, the graph node's `property` (resolved too) deep-merged over it, and
the result checked against the manifest's `api.property`. Every failure here is fatal in
the real runtime (exit 1 or SIGABRT); the stand-in raises PropertyLoadError.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from .property_store import copy_json
from .value_types import ValueTypeError, conform_object

# The whole string is a placeholder: ${env:NAME}, ${env:NAME|} or ${env:NAME|fallback}.
_ENV_PLACEHOLDER = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(\|([^}]*))?\}")


class PropertyLoadError(RuntimeError):
    """A property problem that makes the real TEN app exit."""


class PropertyMisfit(PropertyLoadError):
    """A property value that misfits its declared type: the real app aborts (SIGABRT)."""

    aborts_process = True


def resolve_env(value: Any, environ: Mapping[str, str] | None = None, path: str = "") -> Any:
    """A copy of `value` with every `${env:...}` string replaced (nested objects and arrays
    too). A variable that is not set and has no `|` fallback raises PropertyLoadError."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        match = _ENV_PLACEHOLDER.fullmatch(value)
        if match is None:
            return value
        name, has_fallback, fallback = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        if has_fallback is not None:
            return fallback or ""
        raise PropertyLoadError(
            f"property {path or '<root>'}: environment variable {name} is not set and "
            f"'{value}' has no fallback (the real runtime exits with code 1)"
        )
    if isinstance(value, dict):
        return {key: resolve_env(item, env, _join(path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_env(item, env, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; any other value (arrays included) replaces."""
    merged = copy_json(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy_json(value)
    return merged


def load_extension_properties(
    defaults: dict[str, Any] | None,
    node_property: dict[str, Any] | None,
    manifest: dict[str, Any] | None,
    where: str,
) -> dict[str, Any]:
    """The properties an extension starts with; `where` names the node for error messages."""
    try:
        base = resolve_env(defaults or {})
        override = resolve_env(node_property or {})
    except PropertyLoadError as exc:
        raise PropertyLoadError(f"{where}: {exc}") from None
    merged = deep_merge(base, override)
    declared = ((manifest or {}).get("api") or {}).get("property")
    if not declared:
        return merged
    try:
        return conform_object(merged, declared)
    except ValueTypeError as exc:
        raise PropertyMisfit(
            f"{where}: property {exc} (the real runtime aborts the process: SIGABRT)"
        ) from None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
