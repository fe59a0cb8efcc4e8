"""Secrets written into a graph or property file as they are, instead of `${env:...}`:
whoever reads the file, or its history in version control, has them.

The fix names an environment variable only where one is already in use for that property
(in the node's own property.json, or on a node of the same addon in the file); it never
invents one, since a name the app's .env does not have would only mislead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .findings import Finding, warning
from .properties import join

# The avatar's own secrets.
AVATAR_SECRETS = ("params.spatius_api_key", "params.agora_appcert", "params.agora_token")
# Other nodes: property names that hold credentials in TEN extensions (api_key, key,
# app_certificate, token, secret, password...), not counts such as max_tokens.
_OTHER_SECRET = re.compile(
    r"(^|_)(api_?key|key|secret|secret_key|access_key|password|passwd|app_?cert|app_certificate|certificate|token)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\$\{env:([^|}]+)(?:\|[^}]*)?\}")


def placeholder_variables(prop: Any) -> dict[str, str]:
    """{property path: variable} for every `${env:VARIABLE...}` value in a property object."""
    found = {}
    for path, value in _strings(prop, ""):
        if match := _PLACEHOLDER.fullmatch(value.strip()):
            found[path] = match.group(1)
    return found


def literal_secret_findings(
    prop: Any, where: str, *, avatar: bool, known: Mapping[str, str] | None = None
) -> list[Finding]:
    """A warning per secret written literally into the node property `prop` (never its value);
    `known` maps property paths to the variables already used for them."""
    known = known or {}
    findings = []
    for path, value in _strings(prop, ""):
        if not value.strip() or _PLACEHOLDER.fullmatch(value.strip()):
            continue
        secret = (
            path in AVATAR_SECRETS
            if avatar
            else bool(_OTHER_SECRET.search(path.rsplit(".", 1)[-1]))
        )
        if not secret:
            continue
        variable = known.get(path)
        if variable:
            fix = f'write "${{env:{variable}|}}" instead and set {variable} in the environment (or the app\'s .env)'
        else:
            fix = (
                'write "${env:NAME|}" instead, with NAME an environment variable of your choice, and set it in '
                "the environment (or the app's .env)"
            )
        findings.append(
            warning(
                join(where, path) if where else path,
                "a secret is written into the file as it is: whoever reads the file, or its history, has it",
                fix,
            )
        )
    return findings


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _strings(child, join(path, str(key)))
    elif isinstance(value, str):
        yield path, value


class KnownVariables:
    """The environment variables a file already uses, per addon and property path: those of
    every node of the addon in the file, over those of the addon's own property.json (given
    for this extension; found in ten_packages/extension/<addon>/ beside an app's file)."""

    def __init__(
        self, graphs: list[tuple[str, Any]], own_defaults: Mapping[str, Any], folder: Path | None
    ) -> None:
        self._defaults = {
            addon: placeholder_variables(prop) for addon, prop in own_defaults.items()
        }
        self._folder = folder
        self._in_file: dict[str, dict[str, str]] = {}
        for _name, graph in graphs:
            for item in (graph.get("nodes") or []) if isinstance(graph, Mapping) else []:
                if isinstance(item, Mapping) and isinstance(item.get("addon"), str):
                    self._in_file.setdefault(item["addon"], {}).update(
                        placeholder_variables(item.get("property"))
                    )

    def __call__(self, addon: str) -> dict[str, str]:
        if addon not in self._defaults:
            self._defaults[addon] = self._package_defaults(addon)
        return {**self._defaults[addon], **self._in_file.get(addon, {})}

    def _package_defaults(self, addon: str) -> dict[str, str]:
        if self._folder is None or not addon:
            return {}
        try:
            text = (
                self._folder / "ten_packages" / "extension" / addon / "property.json"
            ).read_text(encoding="utf-8")
            return placeholder_variables(json.loads(text))
        except (OSError, ValueError):
            return {}
