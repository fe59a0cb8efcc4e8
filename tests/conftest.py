"""Test set-up shared by every test: where the TEN runtime and the test bed come from.

Under a real TEN app (tests/bin/start) `ten_runtime` is the app's real runtime; anywhere
else it is the test bed's stand-in. The test files themselves import only `ten_runtime`.
"""

import os
import sys
from pathlib import Path

EXTENSION_DIR = Path(__file__).resolve().parents[1]
TESTBED_DIR = EXTENSION_DIR / "testbed"

# The official TEN schemas: the project's own copy in ../shared, for the tests only (the
# extension knows no folder outside itself). A TEN_SCHEMA_DIR already set wins.
_SHARED_SCHEMAS = EXTENSION_DIR.parent / "shared" / "schemas" / "ten"
if _SHARED_SCHEMAS.is_dir():
    os.environ.setdefault("TEN_SCHEMA_DIR", str(_SHARED_SCHEMAS))

sys.path.insert(0, str(TESTBED_DIR))
try:
    import ten_runtime  # noqa: F401  (the real runtime, when the app provides it)
except ImportError:
    sys.path.insert(0, str(TESTBED_DIR / "ten_runtime_standin"))
    # The stand-in loads addons from extension folders listed here, as a TEN app does.
    os.environ.setdefault("TEN_STANDIN_EXTENSION_PATH", str(EXTENSION_DIR))

# Fixtures `emulator` and `emulator_props`: the Spatius service emulator (testbed/).
# suite_audit: reliability totals and the secrets scan over the whole suite's output.
# collection_layout: the extension root is not imported by pytest, only by the runtime.
pytest_plugins = [
    "spatius_emulator.pytest_plugin",
    "tests.reliability.suite_audit",
    "tests.collection_layout",
]


# -- TEN app and message declarations (the stand-in's area) ---------------------------------
import threading  # noqa: E402

import pytest  # noqa: E402
from ten_runtime import App, TenEnv  # noqa: E402

EXTENSION_ADDON = "spatius_avatar_python"


class _BareApp(App):
    """The bare app a TEN extension's test session runs, as upstream extension tests do.
    Constructed with no arguments: the real App's native constructor takes none, even
    through a subclass (it aborts the process: "ten_py_app_create ... Expect 0 argument")."""

    started: threading.Event

    def on_init(self, ten_env: TenEnv) -> None:
        self.started.set()
        ten_env.on_init_done()


@pytest.fixture(scope="session", autouse=True)
def ten_app():
    # A TEN App belongs to the thread that creates it: the real runtime aborts the process
    # when another thread runs it. So the thread that runs it creates it too.
    started = threading.Event()
    holder: list[_BareApp] = []
    failure: list[BaseException] = []

    def create_and_run() -> None:
        try:
            app = _BareApp()
            app.started = started
            holder.append(app)
            app.run(False)
        except BaseException as error:  # reported by the fixture, in pytest's thread
            failure.append(error)
            started.set()

    thread = threading.Thread(target=create_and_run, name="ten-app", daemon=True)
    thread.start()
    assert started.wait(30), "the TEN app did not start"
    assert not failure, f"the TEN app failed to start: {failure[0]!r}"
    app = holder[0]
    yield app
    app.close()
    thread.join(30)


@pytest.fixture(autouse=True)
def extension_messages_declared(request):
    """After each test: every message the extension under test received or sent in the
    stand-in's runs is declared in its manifest's `api` (the real runtime would not
    deliver some of them, and a graph author relies on the declarations)."""
    try:
        from ten_runtime import standin
    except ImportError:  # the real runtime records nothing
        yield
        return
    from tests.reliability.suite_audit import AUDIT  # keeps every run for the secrets scan

    AUDIT.archive_runs(standin.take_completed_runs())
    yield
    runs = standin.take_completed_runs()
    AUDIT.archive_runs(runs)
    if request.node.get_closest_marker("undeclared_input"):
        return  # the test feeds an undeclared message on purpose
    problems = [
        problem
        for record in runs
        for problem in standin.undeclared_messages(record, EXTENSION_ADDON)
    ]
    assert not problems, "messages missing from manifest.json api:\n" + "\n".join(problems)


# -- CI never hides a skipped suite ----------------------------------------------------------
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped and os.environ.get("CI") == "true":
        terminalreporter.write_line(
            f"CI: {len(skipped)} test(s) skipped; in CI every suite must run"
            " (see the reasons above)",
            red=True,
        )


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and os.environ.get("CI") == "true" and session.exitstatus == 0:
        session.exitstatus = 1
