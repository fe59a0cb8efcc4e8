"""Test set-up shared by every test: where the TEN runtime and the test bed come from.

Under a real TEN app (tests/bin/start) `ten_runtime` is the app's real runtime; anywhere
else it is the test bed's stand-in. The test files themselves import only `ten_runtime`.
"""

import os
import sys
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parents[1]
TESTBED_DIR = EXTENSION_DIR / "testbed"

sys.path.insert(0, str(TESTBED_DIR))
try:
    import ten_runtime  # noqa: F401  (the real runtime, when the app provides it)
except ImportError:
    sys.path.insert(0, str(TESTBED_DIR / "ten_runtime_standin"))
    # The stand-in loads addons from extension folders listed here, as a TEN app does.
    os.environ.setdefault("TEN_STANDIN_EXTENSION_PATH", str(EXTENSION_DIR))

# Fixtures `emulator` and `emulator_props`: the Spatius service emulator (testbed/).
pytest_plugins = ["spatius_emulator.pytest_plugin"]
