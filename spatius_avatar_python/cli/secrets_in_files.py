"""Secrets written into a graph or property file as they are, instead of `${env:...}`:
whoever reads the file, or its history in version control, has them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..config import ENV_VARS
from .findings import Finding, warning
from .properties import join

# The avatar's own secrets, and the environment variable each is read from by default.
AVATAR_SECRETS = {
    "params.spatius_api_key": ENV_VARS["params.spatius_api_key"],
    "params.agora_appcert": ENV_VARS["params.agora_appcert"],
    "params.agora_token": "AGORA_RTC_TOKEN",
}
# Other nodes: property names that hold credentials in TEN extensions (api_key, key,
# app_certificate, token, secret, password...), not counts such as max_tokens.
_OTHER_SECRET = re.compile(
    r"(^|_)(api_?key|key|secret|secret_key|access_key|password|passwd|app_?cert|app_certificate|certificate|token)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\$\{env:[^}]+\}")


def literal_secret_findings(prop: Any, where: str, *, avatar: bool) -> list[Finding]:
    """A warning per secret written literally into the node property `prop` (never its value)."""
    findings = []
    for path, value in _strings(prop, ""):
        if not value.strip() or _PLACEHOLDER.fullmatch(value.strip()):
            continue
        if avatar:
            variable = AVATAR_SECRETS.get(path)
        else:
            variable = _variable_for(where, path) if _OTHER_SECRET.search(path.rsplit(".", 1)[-1]) else None
        if variable is None:
            continue
        findings.append(warning(
            join(where, path) if where else path,
            "a secret is written into the file as it is: whoever reads the file, or its history, has it",
            f'write "${{env:{variable}|}}" instead and set {variable} in the environment (or the app\'s .env)',
        ))
    return findings


def _variable_for(node: str, path: str) -> str:
    name = f"{node.rsplit('/', 1)[-1]}_{path.rsplit('.', 1)[-1]}"
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _strings(child, join(path, str(key)))
    elif isinstance(value, str):
        yield path, value
