"""A pytest plugin (listed in tests/conftest.py): the extension's root folder is collected
as a plain directory, not as a Python package.

The root holds the TEN extension package's `__init__.py`, which imports `addon` and so
registers the addon. Collected as a package, pytest would import that `__init__.py` itself
before the first test (under the checkout folder's name, e.g. `wt9`), registering the addon
from a module the TEN app never has. Then the runtime would not load the extension the way a
TEN app does, as the package `ten_packages.extension.spatius_avatar_python` (in a TEN app the
folder is named after the inner package `spatius_avatar_python`, already imported, so pytest
skips the import there).
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXTENSION_DIR = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    directory = getattr(pytest, "Dir", None)  # pytest >= 8
    if directory is not None and path == EXTENSION_DIR:
        return directory.from_parent(parent, path=path)
    return None
