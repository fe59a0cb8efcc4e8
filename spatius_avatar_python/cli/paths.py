"""Where the CLI finds the extension's own files, the TEN schemas and the test bed."""

from __future__ import annotations

import sys
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parents[2]
MANIFEST_FILE = EXTENSION_DIR / "manifest.json"
PROPERTY_FILE = EXTENSION_DIR / "property.json"


def schema_dir() -> Path | None:
    """The official TEN schemas' folder named by $TEN_SCHEMA_DIR, else None (`check` then
    skips the schema check with a note saying where to get them)."""
    from .ten_schemas import default_schema_dir

    return default_schema_dir()


TESTBED_DIR = EXTENSION_DIR / "testbed"


def use_testbed() -> None:
    """Make the test bed importable (developer commands only; the extension never does this)."""
    if not TESTBED_DIR.is_dir():
        raise RuntimeError(f"the test bed is missing: {TESTBED_DIR} (it ships with the repository)")
    if str(TESTBED_DIR) not in sys.path:
        sys.path.insert(0, str(TESTBED_DIR))
    try:
        import ten_runtime  # noqa: F401  (a real TEN runtime wins over the stand-in)
    except ImportError:
        standin = str(TESTBED_DIR / "ten_runtime_standin")
        if standin not in sys.path:
            sys.path.insert(0, standin)
