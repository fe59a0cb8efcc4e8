"""The addon manager: registration by decorator and resolution of an addon name the way a TEN app
does it: an addon already registered, else an extension folder found through the env var
TEN_STANDIN_EXTENSION_PATH, imported as the package `ten_packages.extension.<name>` and
nothing more. As with the real Python addon loader, the package's `__init__.py` must
import the module that registers the addon (`from . import addon`): the loader never
imports `addon.py` itself."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

from .addon import Addon

EXTENSION_PATH_ENV = "TEN_STANDIN_EXTENSION_PATH"
PACKAGE_PREFIX = "ten_packages.extension"


class AddonLoadError(RuntimeError):
    """An addon that cannot be found or loaded: fatal for the run."""


@dataclass(frozen=True)
class AddonInfo:
    name: str
    addon_class: type[Addon]
    folder: Path | None  # the extension folder, when the addon has one
    manifest: dict[str, Any] | None
    default_properties: dict[str, Any] | None


_registry: dict[str, tuple[type[Addon], Path | None]] = {}
_lock = threading.RLock()

A = TypeVar("A", bound=type[Addon])


class _AddonManager:
    """The real runtime's registry class; the stand-in's registry is this module's
    `_registry`, read through `registered_addons()`."""

    @classmethod
    def registered(cls) -> list[str]:
        return registered_addons()


def register_addon_as_extension(name: str, base_dir: str | None = None) -> Callable[[A], A]:
    def decorator(cls: A) -> A:
        folder = Path(base_dir) if base_dir else _folder_of_class(cls, name)
        with _lock:
            _registry[name] = (cls, folder)
        return cls

    return decorator


def resolve_addon(name: str) -> AddonInfo:
    with _lock:
        if name not in _registry:
            _import_extension_folder(name)
        cls, folder = _registry[name]
    manifest = _read_json(folder / "manifest.json") if folder else None
    defaults_path = folder / "property.json" if folder else None
    defaults = _read_json(defaults_path) if defaults_path and defaults_path.is_file() else None
    return AddonInfo(name, cls, folder, manifest, defaults)


def registered_addons() -> list[str]:
    with _lock:
        return sorted(_registry)


def _folder_of_class(cls: type, addon_name: str) -> Path | None:
    """The extension folder of an addon class: the folder of its module, when that folder's
    manifest.json names this addon (test-local addons defined in test files have none)."""
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    folder = Path(file).resolve().parent
    return folder if _manifest_name(folder) == addon_name else None


def _manifest_name(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError):
        return None


def find_extension_folder(name: str) -> Path | None:
    for entry in filter(None, os.environ.get(EXTENSION_PATH_ENV, "").split(os.pathsep)):
        root = Path(entry)
        if _manifest_name(root) == name:
            return root.resolve()
        if root.is_dir():
            for child in sorted(root.iterdir()):
                if child.is_dir() and _manifest_name(child) == name:
                    return child.resolve()
    return None


def _import_extension_folder(name: str) -> None:
    folder = find_extension_folder(name)
    if folder is None:
        raise AddonLoadError(
            f"addon '{name}' is neither registered nor found in an extension folder listed "
            f"in {EXTENSION_PATH_ENV}={os.environ.get(EXTENSION_PATH_ENV, '')!r}"
        )
    package = f"{PACKAGE_PREFIX}.{name}"
    _ensure_parent_packages()
    if package not in sys.modules:
        init_file = folder / "__init__.py"
        spec = importlib.util.spec_from_file_location(
            package,
            init_file if init_file.is_file() else None,
            submodule_search_locations=[str(folder)],
        )
        if spec is None:
            raise AddonLoadError(f"cannot import the extension folder {folder} as {package}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        setattr(sys.modules[PACKAGE_PREFIX], name, module)
        try:
            if spec.loader is not None:
                spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[package]
            raise AddonLoadError(f"importing {package} from {folder} failed: {exc!r}") from exc
    # The real loader imports the package only, never `<package>.addon`.
    if name not in _registry:
        imported = sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith(package + "."))
        raise AddonLoadError(
            f"Unable to find 'extension:{name}' in registry: the package {package} "
            f"({folder}) was imported but did not register addon '{name}' with "
            f"@register_addon_as_extension (modules it imported: {imported or 'none'}). "
            "The TEN addon loader imports only the package: its __init__.py must import the "
            "module that registers the addon, e.g. `from . import addon`."
        )


def _ensure_parent_packages() -> None:
    """Synthesizes the empty packages `ten_packages` and `ten_packages.extension`."""
    parent = None
    for package in ("ten_packages", PACKAGE_PREFIX):
        if package not in sys.modules:
            module = types.ModuleType(package)
            module.__path__ = []  # a package with no folder of its own
            sys.modules[package] = module
            if parent is not None:
                setattr(sys.modules[parent], package.rsplit(".", 1)[1], module)
        parent = package


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AddonLoadError(f"cannot read {path}: {exc}") from exc
