"""The avatar node's properties as the TEN runtime will see them, for commands that run a
session (`stream`): the node's `property` (from a property file, or the avatar node of a
graph or an app property.json) deep-merged over the extension's property.json, with
`${env:...}` resolved. The same semantics and file detection as `check`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .check import ADDON, Kind, detect_kind, predefined_graphs
from .findings import Masker
from .paths import PROPERTY_FILE
from .properties import deep_merge, defines, read_env_file, resolve_env, secret_values


class AvatarSourceError(ValueError):
    """The properties cannot be read; str() says what to give instead."""


def environment(base: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    env = dict(base)
    if env_file is not None:
        try:
            env.update(read_env_file(env_file))
        except (OSError, ValueError) as error:
            raise AvatarSourceError(f"cannot read the env file {env_file}: {error}") from error
    return env


def avatar_properties(
    env: Mapping[str, str],
    *,
    property_file: Path | None = None,
    graph_file: Path | None = None,
    node: str | None = None,
    masker: Masker | None = None,
    origins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The merged, resolved properties; secrets found on the way are added to `masker`.
    `origins`, when given, is filled with where each property that the user can change comes
    from: "the environment variable VAR" or "FILE" (given in the property or graph file)."""
    defaults_raw = _read_json(PROPERTY_FILE)
    defaults = resolve_env(defaults_raw, env)
    raw: Any = {}
    if property_file is not None:
        raw = _read_json(property_file)
    elif graph_file is not None:
        raw = _node_property(_read_json(graph_file), graph_file, node)
    if not isinstance(raw, Mapping):
        raise AvatarSourceError("the avatar's property is not a JSON object")
    resolved = resolve_env(raw, env)
    if masker is not None:
        masker.add(secret_values(defaults))
        masker.add(secret_values(resolved))
    if origins is not None:
        given = property_file or graph_file
        origins.update(
            {
                use.path: f"the environment variable {use.var}"
                for use in defaults.uses
                if not defines(raw, use.path)
            }
        )
        for path, _ in _leaves(raw, ""):
            origins[path] = str(given)
        origins.update({use.path: f"the environment variable {use.var}" for use in resolved.uses})
    return deep_merge(defaults.value, resolved.value)


def _leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [
            leaf
            for key, child in value.items()
            for leaf in _leaves(child, f"{path}.{key}" if path else str(key))
        ]
    return [(path, value)]


def _node_property(document: Any, path: Path, node: str | None) -> Any:
    kind = detect_kind(document)
    if kind not in (Kind.GRAPH, Kind.APP):
        raise AvatarSourceError(
            f"{path}: no graph found (neither nodes nor ten.predefined_graphs); "
            "use --property for a property file"
        )
    graphs = (
        [document] if kind is Kind.GRAPH else [graph for _, graph in predefined_graphs(document)]
    )
    avatars = [
        item
        for graph in graphs
        if isinstance(graph, Mapping)
        for item in graph.get("nodes") or []
        if isinstance(item, Mapping)
        and (item.get("name") == node if node else item.get("addon") == ADDON)
    ]
    which = f"named {node!r}" if node else f'with "addon": "{ADDON}"'
    if not avatars:
        raise AvatarSourceError(f"{path}: no avatar node {which}")
    if len(avatars) > 1:
        raise AvatarSourceError(
            f"{path}: {len(avatars)} avatar nodes {which}; choose one with --node"
        )
    return avatars[0].get("property") or {}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AvatarSourceError(f"cannot read {path}: {error.strerror or error}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AvatarSourceError(f"{path} is not valid JSON: {error}") from error
