"""The project says its name and version once per kind of reader, and all of them agree:
manifest.json (TEN's package manager, the authority), pyproject.toml (Python tools) and
`spatius_avatar_python.__version__` (the developer CLI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import spatius_avatar_python

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest itself depends on the backport there
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def manifest() -> dict[str, Any]:
    return json.loads((REPO / "manifest.json").read_text(encoding="utf-8"))


def project() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]


def test_pyproject_has_the_manifest_s_name_and_version() -> None:
    assert (project()["name"], project()["version"]) == (manifest()["name"], manifest()["version"])


def test_the_package_version_is_the_manifest_s() -> None:
    assert spatius_avatar_python.__version__ == manifest()["version"]


def test_the_linter_and_the_type_checker_check_against_the_oldest_python_supported() -> None:
    # An API newer than requires-python must be an error, not a crash on a user's machine.
    with (REPO / "pyproject.toml").open("rb") as file:
        settings = tomllib.load(file)
    oldest = settings["project"]["requires-python"].removeprefix(">=")
    assert settings["tool"]["ruff"]["target-version"] == "py" + oldest.replace(".", "")
    assert settings["tool"]["mypy"]["python_version"] == oldest
