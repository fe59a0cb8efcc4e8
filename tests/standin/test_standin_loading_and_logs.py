"""Addon resolution (registered, or an extension folder found through
TEN_STANDIN_EXTENSION_PATH and imported as ten_packages.extension.<name>) and log capture."""

import json
import os
import re
import sys

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import (  # noqa: E402
    Addon,
    AsyncExtension,
    AsyncExtensionTester,
    AsyncTenEnv,
    AsyncTenEnvTester,
    Data,
    LogLevel,
    SendOptions,
    TenEnv,
    TenErrorCode,
    register_addon_as_extension,
    standin,
)
from ten_runtime.addon_manager import find_extension_folder  # noqa: E402
from ten_runtime.graph import GraphError  # noqa: E402

TESTER_NODE = {"type": "extension", "name": "ten:test_extension", "addon": "ten:test_extension"}

LOGGING = """
from . import helper  # relative imports inside the extension package work


class TestedExtension(AsyncExtension):
    async def on_start(self, ten_env):
        ten_env.log_debug("debug line", category="cat")
        ten_env.log_info(helper.GREETING)
        ten_env.log_warn("warn line")
        ten_env.log_error("error line", fields=Value.from_object({"n": Value.from_int(1)}))
        ten_env.log(LogLevel.INFO, f"package {__name__}")
        await ten_env.send_data(Data.create("logged"))
"""

LOGGING_FOOTER = """

@register_addon_as_extension({name!r})
class TestedExtensionAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        ten_env.log_info(f"addon creates {{name}}")
        ten_env.on_create_instance_done(TestedExtension(name), context)
"""


class LogAndStop(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        ten_env.log_info("tester line")
        ten_env.stop_test()


class LogAndStopWhenLogged(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        ten_env.log_info("tester line")

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        ten_env.stop_test()


def test_an_extension_folder_is_imported_as_a_ten_package_and_everything_logged_is_captured(
    make_extension, capfd
):
    addon = make_extension("logging", LOGGING, footer=LOGGING_FOOTER)
    folder = find_extension_folder(addon)
    (folder / "helper.py").write_text('GREETING = "hello from helper"\n')
    tester = LogAndStopWhenLogged()
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    assert sys.modules[f"ten_packages.extension.{addon}.addon"].__file__ == str(folder / "addon.py")
    record = standin.last_run()
    entries = [(r.level, r.node, r.message) for r in record.logs if r.category != "ten:standin"]
    assert (LogLevel.INFO, addon, f"addon creates {addon}") in entries
    assert (LogLevel.INFO, "ten:test_extension", "tester line") in entries
    assert (LogLevel.INFO, addon, "hello from helper") in entries
    assert (LogLevel.INFO, addon, f"package ten_packages.extension.{addon}.addon") in entries
    debug = next(r for r in record.logs if r.message == "debug line")
    assert (debug.level, debug.category) == (LogLevel.DEBUG, "cat")
    error = next(r for r in record.logs if r.message == "error line")
    assert error.fields == {"n": 1}
    assert record.nodes[addon].folder == str(folder)
    # Printed as the real runtime prints them without a ten.log configuration: every level,
    # naming the function, file and line that logged.
    stderr = capfd.readouterr().err
    for level_char, message in (
        ("D", "debug line"),
        ("I", "hello from helper"),
        ("W", "warn line"),
        ("E", "error line"),
    ):
        assert re.search(
            rf"^\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} {os.getpid()}\(\d+\) {level_char} "
            rf"on_start@addon\.py:\d+ \[{addon}\] {message}$",
            stderr,
            re.MULTILINE,
        ), message
    assert re.search(rf" I on_create_instance@addon\.py:\d+ \[{addon}\] addon creates ", stderr)


def test_an_extension_path_entry_may_be_the_extension_folder_itself(make_extension, monkeypatch):
    addon = make_extension("direct", LOGGING.replace("from . import helper", "import os as helper"))
    folder = find_extension_folder(addon)
    monkeypatch.setenv("TEN_STANDIN_EXTENSION_PATH", str(folder))
    assert find_extension_folder(addon) == folder
    monkeypatch.setenv("TEN_STANDIN_EXTENSION_PATH", str(folder.parent.parent))
    assert find_extension_folder(addon) is None  # only one level of sub-folders is searched


def test_an_unknown_addon_fails_the_run_naming_the_search_path():
    tester = AsyncExtensionTester()
    tester.set_test_mode_single("no_such_addon_anywhere")
    with pytest.raises(
        standin.StandinRunError, match="addon 'no_such_addon_anywhere' is neither registered"
    ):
        tester.run()


def test_an_addon_module_that_registers_nothing_fails_the_run(make_extension):
    addon = make_extension(
        "silent", "class TestedExtension(AsyncExtension):\n    pass\n", footer=""
    )
    tester = AsyncExtensionTester()
    tester.set_test_mode_single(addon)
    with pytest.raises(standin.StandinRunError, match="did not register addon"):
        tester.run()


def test_only_the_package_is_imported_so_its_init_must_import_the_addon_module(make_extension):
    # As the real addon loader: `ten_packages.extension.<name>` is imported, never its addon.py.
    addon = make_extension(
        "init_without_addon", "class TestedExtension(AsyncExtension):\n    pass\n", init=""
    )
    tester = LogAndStop()
    tester.set_test_mode_single(addon)
    with pytest.raises(standin.StandinRunError) as failed:
        tester.run()
    message = str(failed.value)
    assert f"Unable to find 'extension:{addon}' in registry" in message
    assert "from . import addon" in message  # the fix
    assert f"ten_packages.extension.{addon}" in sys.modules
    assert f"ten_packages.extension.{addon}.addon" not in sys.modules
    assert standin.last_run().fatal_errors[0].callback == "load"


def test_a_graph_without_the_tester_node_fails_run_at_once_instead_of_hanging():
    class Starts(AsyncExtensionTester):
        started = False

        async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
            self.started = True
            ten_env.stop_test()

    node = {"type": "extension", "name": "one", "addon": "standin_test_in_file_addon"}
    tester = Starts()
    tester.set_test_mode_graph(json.dumps({"nodes": [node], "connections": []}))
    with pytest.raises(GraphError, match="the graph has no tester node") as refused:
        tester.run()
    assert json.dumps(TESTER_NODE) in str(refused.value)  # what to add
    assert not tester.started
    # the name alone does not make the tester: its addon does
    impostor = {
        "type": "extension",
        "name": "ten:test_extension",
        "addon": "standin_test_in_file_addon",
    }
    tester.set_test_mode_graph(json.dumps({"nodes": [node, impostor]}))
    with pytest.raises(GraphError, match="the graph has no tester node"):
        tester.run()
    tester.set_test_mode_graph(
        json.dumps({"nodes": [node, TESTER_NODE, dict(TESTER_NODE, name="again")]})
    )
    with pytest.raises(GraphError, match="a graph has one tester"):
        tester.run()
    assert not tester.started
    tester.set_test_mode_graph(json.dumps({"nodes": [node, TESTER_NODE]}))
    assert tester.run() is None and tester.started


def test_the_tester_node_may_have_another_name_and_is_routed_by_it():
    # As in the real runtime: the node with the tester's addon is the tester, whatever its name.
    class Pings(AsyncExtensionTester):
        async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
            wait = SendOptions(wait_for_result=True)
            self.routed = await ten_env.send_data(Data.create("ping"), wait)
            self.unrouted = await ten_env.send_data(Data.create("other"), wait)
            ten_env.stop_test()

    tester = Pings()
    tester.set_test_mode_graph(
        json.dumps(
            {
                "nodes": [
                    {"type": "extension", "name": "one", "addon": "standin_test_in_file_addon"},
                    dict(TESTER_NODE, name="my_tester"),
                ],
                "connections": [
                    {
                        "extension": "my_tester",
                        "data": [{"name": "ping", "dest": [{"extension": "one"}]}],
                    }
                ],
            }
        )
    )
    assert tester.run() is None
    assert tester.routed is None
    assert tester.unrouted.error_code() == TenErrorCode.ErrorCodeMsgNotConnected
    assert any(r.node == "my_tester" for r in standin.last_run().messages if r.name == "ping")


class InFileExtension(AsyncExtension):
    async def on_configure(self, ten_env: AsyncTenEnv) -> None:
        # on_configure always runs, even when the tester stops at once
        ten_env.log_info(f"in-file extension {self.name} configured")


@register_addon_as_extension("standin_test_in_file_addon")
class InFileAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(InFileExtension(name), context)


def test_an_addon_registered_in_process_needs_no_folder(monkeypatch):
    monkeypatch.setenv("TEN_STANDIN_EXTENSION_PATH", "")
    tester = LogAndStop()
    tester.set_test_mode_graph(
        json.dumps(
            {
                "nodes": [
                    {"type": "extension", "name": "one", "addon": "standin_test_in_file_addon"},
                    TESTER_NODE,
                ]
            }
        )
    )
    assert tester.run() is None
    record = standin.last_run()
    assert "in-file extension one configured" in record.log_messages("one")
    assert record.nodes["one"].manifest is None and record.nodes["one"].folder is None


def test_graph_errors_fail_the_run():
    tester = AsyncExtensionTester()
    tester.set_test_mode_graph(
        json.dumps(
            {
                "nodes": [
                    {"type": "extension", "name": "one", "addon": "standin_test_in_file_addon"},
                    TESTER_NODE,
                ],
                "connections": [
                    {"extension": "one", "cmd": [{"name": "x", "dest": [{"extension": "ghost"}]}]}
                ],
            }
        )
    )
    with pytest.raises(Exception, match="'ghost', which is not a node of the graph"):
        tester.run()
