"""Fixtures for the stand-in's own tests: small test-local extensions in temp folders."""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ADDON_HEADER = """\
import asyncio
import json
import threading

from ten_runtime import *  # noqa: F403 - the whole API, as a test-local extension needs
"""

ADDON_FOOTER = """

@register_addon_as_extension({name!r})
class TestedExtensionAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        ten_env.on_create_instance_done(TestedExtension(name), context)
"""

# What an extension package's __init__.py needs: the addon loader imports only the package.
PACKAGE_INIT = "from . import addon  # noqa: F401 - registers the addon\n"

MakeExtension = Callable[..., str]


@pytest.fixture
def make_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeExtension:
    """make_extension(base_name, source, api=None, properties=None) writes an extension
    folder (manifest.json, property.json, addon.py whose `TestedExtension` class comes
    from `source`, and an __init__.py that imports addon.py, as the TEN addon loader needs:
    it imports only the package), puts it on TEN_STANDIN_EXTENSION_PATH and returns its
    unique addon name (addons stay registered for the whole process)."""
    root = tmp_path / "extensions"
    root.mkdir()
    monkeypatch.setenv(
        "TEN_STANDIN_EXTENSION_PATH",
        os.pathsep.join(filter(None, [str(root), os.environ.get("TEN_STANDIN_EXTENSION_PATH")])),
    )

    def make(
        base_name: str,
        source: str,
        api: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        footer: str = ADDON_FOOTER,
        init: str = PACKAGE_INIT,
    ) -> str:
        name = f"{base_name}_{uuid.uuid4().hex[:8]}"
        folder = root / name
        folder.mkdir()
        manifest = {"type": "extension", "name": name, "version": "0.1.0", "api": api or {}}
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if properties is not None:
            (folder / "property.json").write_text(json.dumps(properties, indent=2))
        (folder / "__init__.py").write_text(init)
        (folder / "addon.py").write_text(
            ADDON_HEADER + "\n\n" + textwrap.dedent(source) + footer.format(name=name)
        )
        return name

    return make
