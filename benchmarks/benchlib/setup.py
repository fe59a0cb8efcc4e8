"""Import paths for benchmark scripts: the repo root, the test bed, and the TEN stand-in
(only when the real `ten_runtime` cannot be imported), as tests/conftest.py does."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTBED = REPO / "testbed"
RESULTS_DIR = REPO / "benchmarks" / "results"


def prepare_paths() -> None:
    for path in (str(REPO), str(TESTBED)):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        import ten_runtime  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(TESTBED / "ten_runtime_standin"))
        os.environ.setdefault("TEN_STANDIN_EXTENSION_PATH", str(REPO))


def speech_file(rate: int) -> Path:
    """The project's speech fixture at `rate` (FLAC, which the scripted TTS decodes)."""
    prepare_paths()
    from speech_fixtures import fixture_path

    return fixture_path(rate)
