"""Behaviours where the stand-in differed from the real runtime (issue 18), asserted as the
real runtime behaves. These tests import only the real API, so they run under both: under
the real runtime they check the claim, on the stand-in that it reproduces it."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ten_runtime import (
    Addon,
    AsyncExtension,
    AsyncExtensionTester,
    AsyncTenEnv,
    AsyncTenEnvTester,
    AudioFrame,
    Cmd,
    CmdResult,
    Data,
    SendOptions,
    StatusCode,
    VideoFrame,
    register_addon_as_extension,
)

import ten_runtime
from tests.standin.real_api import REAL_MODULES

EXTENSION_DIR = Path(__file__).resolve().parents[2]
STANDIN_DIR = EXTENSION_DIR / "testbed" / "ten_runtime_standin"
TYPED_EXTENSION = Path(__file__).resolve().parent / "standin_typed_extension"


@pytest.fixture
def typed_extension(monkeypatch: pytest.MonkeyPatch) -> str:
    """Makes `standin_typed_extension` loadable the way a TEN app loads an extension: from
    <app>/ten_packages/extension/ under the real runtime (copied there), through
    TEN_STANDIN_EXTENSION_PATH on the stand-in. Its manifest then applies."""
    try:
        from ten_runtime import standin  # noqa: F401
    except ImportError:
        app = (
            Path(ten_runtime.__file__).resolve().parents[5]
        )  # <app>/ten_packages/system/ten_runtime_python/interface/ten_runtime
        target = app / "ten_packages" / "extension" / TYPED_EXTENSION.name
        if not target.exists():
            shutil.copytree(TYPED_EXTENSION, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        monkeypatch.setenv(
            "TEN_STANDIN_EXTENSION_PATH",
            os.pathsep.join(
                filter(None, [str(TYPED_EXTENSION), os.environ.get("TEN_STANDIN_EXTENSION_PATH")])
            ),
        )
    return TYPED_EXTENSION.name


# -- 1. a tester that stops at once: the extension never gets on_start -------------------------
STAGES: list[str] = []


class StageRecorder(AsyncExtension):
    async def on_configure(self, ten_env: AsyncTenEnv) -> None:
        STAGES.append("on_configure")

    async def on_init(self, ten_env: AsyncTenEnv) -> None:
        STAGES.append("on_init")

    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        STAGES.append("on_start")

    async def on_stop(self, ten_env: AsyncTenEnv) -> None:
        STAGES.append("on_stop")

    async def on_deinit(self, ten_env: AsyncTenEnv) -> None:
        STAGES.append("on_deinit")


@register_addon_as_extension("standin_stage_recorder")
class StageRecorderAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        ten_env.on_create_instance_done(StageRecorder(name), context)


class StopAtOnce(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        ten_env.stop_test()


def test_a_tester_that_stops_at_once_may_stop_the_extension_before_it_starts():
    """The real runtime (measured: 8 runs) gives on_configure, then on_stop and on_deinit,
    most times without on_init, sometimes with on_init and once in a while with on_start too:
    an extension may rely on neither on_init nor on_start before on_stop and on_deinit."""
    STAGES.clear()
    tester = StopAtOnce()
    tester.set_test_mode_single("standin_stage_recorder")
    assert tester.run() is None
    assert STAGES[0] == "on_configure" and STAGES[-2:] == ["on_stop", "on_deinit"]
    assert STAGES[1:-2] in ([], ["on_init"], ["on_init", "on_start"])


def test_on_the_stand_in_a_tester_that_stops_at_once_stops_the_extension_unstarted():
    """The stand-in gives the real runtime's most frequent order, every time."""
    pytest.importorskip("ten_runtime.standin", reason="the stand-in's deterministic choice")
    STAGES.clear()
    tester = StopAtOnce()
    tester.set_test_mode_single("standin_stage_recorder")
    assert tester.run() is None
    assert STAGES == ["on_configure", "on_stop", "on_deinit"]


class FlushThenStop(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        result, error = await ten_env.send_cmd(Cmd.create("flush"))
        assert error is None and result is not None
        assert result.get_status_code() == StatusCode.OK
        ten_env.stop_test()


def test_the_avatar_stops_cleanly_when_a_tester_stops_it_at_once(emulator_props):
    """The extension relies on neither on_init nor on_start before on_stop and on_deinit:
    nothing escapes them (an escaped exception would end the run fatally). The first run
    has the addon loaded: the real runtime (0.11.71) never closes a graph stopped while an
    extension's module is still being imported ("Could not close alive extension
    context"), a runtime race this extension cannot help."""
    warm_up = FlushThenStop()
    warm_up.set_test_mode_single("spatius_avatar_python", json.dumps(emulator_props))
    assert warm_up.run() is None
    for _ in range(3):
        tester = StopAtOnce()
        tester.set_test_mode_single("spatius_avatar_python", json.dumps(emulator_props))
        tester.set_timeout(60_000_000)  # a hang fails the test instead of waiting 180 s
        assert tester.run() is None


# -- 3. a plain send_cmd of a cmd answered with streamed results --------------------------------
# Measured under the real runtime (0.11.71): the first (non-final) result reaches send_cmd,
# whose `assert result.is_completed()` then fails in the caller: an AssertionError escapes
# the caller's callback and ends the process. Run in a process of its own below.


# -- 5. the error text of data that misfits its data_out schema --------------------------------
class ReadSendError(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.message: str | None = None

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "send_error":
            self.message, _ = data.get_property_string("message")
            ten_env.stop_test()


def test_a_data_that_misfits_its_data_out_schema_gets_the_real_error_text(typed_extension):
    tester = ReadSendError()
    tester.set_test_mode_single(typed_extension, json.dumps({"rate": 24000}))
    assert tester.run() is None
    assert tester.message == ".x: unsupported conversion from `string` to `int32`"


# -- 8. a send with wait_for_result yields to the loop ------------------------------------------
WAIT = SendOptions(wait_for_result=True)


def _probe_frame() -> AudioFrame:
    frame = AudioFrame.create("probe_frame")
    frame.alloc_buf(4)
    return frame


class YieldProbe(AsyncExtension):
    """Sends each kind of message with wait_for_result while another task is ready to
    run, and reports whether that task ran before the send returned."""

    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        sends = {
            "data": lambda: ten_env.send_data(Data.create("probe"), WAIT),
            "audio_frame": lambda: ten_env.send_audio_frame(_probe_frame(), WAIT),
            "video_frame": lambda: ten_env.send_video_frame(VideoFrame.create("probe_video"), WAIT),
        }
        for kind, send in sends.items():
            ran: list[bool] = []
            other = asyncio.get_running_loop().create_task(self._mark(ran))
            error = await send()
            report = Data.create("yielded")
            report.set_property_string("kind", kind)
            report.set_property_bool("other_task_ran", bool(ran))
            report.set_property_bool("error", error is not None)
            await ten_env.send_data(report)
            await other

    @staticmethod
    async def _mark(ran: list[bool]) -> None:
        ran.append(True)


@register_addon_as_extension("standin_yield_probe")
class YieldProbeAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        ten_env.on_create_instance_done(YieldProbe(name), context)


class CollectYields(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.reports: dict[str, bool] = {}

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "yielded":
            kind, _ = data.get_property_string("kind")
            assert kind is not None
            ran, _ = data.get_property_bool("other_task_ran")
            failed, _ = data.get_property_bool("error")
            self.reports[kind] = ran and not failed
            if len(self.reports) == 3:
                ten_env.stop_test()


def test_sends_that_wait_for_the_result_yield_to_the_loop():
    tester = CollectYields()
    tester.set_test_mode_single("standin_yield_probe")
    assert tester.run() is None
    assert tester.reports == {"data": True, "audio_frame": True, "video_frame": True}


# -- 6. the real package's module layout --------------------------------------------------------
@pytest.mark.parametrize("module", sorted(REAL_MODULES))
def test_every_module_of_the_real_package_imports_with_its_names(module):
    imported = importlib.import_module(f"ten_runtime.{module}")
    missing = [name for name in REAL_MODULES[module] if not hasattr(imported, name)]
    assert not missing, f"ten_runtime.{module} lacks {missing}"


def test_the_imports_of_ten_ai_base_work():
    """The names TEN's own base classes (ten_ai_base) import from the runtime's modules."""
    from ten_runtime.async_ten_env import AsyncTenEnv as FromModule
    from ten_runtime.audio_frame import AudioFrame, AudioFrameDataFmt  # noqa: F401
    from ten_runtime.cmd import Cmd as CmdFromModule
    from ten_runtime.cmd_result import CmdResult as ResultFromModule, StatusCode as CodeFromModule
    from ten_runtime.video_frame import VideoFrame  # noqa: F401

    assert (CmdFromModule, ResultFromModule, CodeFromModule, FromModule) == (
        Cmd,
        CmdResult,
        StatusCode,
        AsyncTenEnv,
    )


# -- 2, 3 and 4: what ends the process, run in a process of its own ----------------------------
# The script runs one tester as a TEN test session does (an App on a thread of its own).
# On the stand-in, TEN_STANDIN_FATAL_EXIT=1 makes a fatal error end the process as the
# real runtime does; the real runtime ignores the variable.
FATAL_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path[:0] = [{extension_dir!r}]
    try:
        import ten_runtime
    except ImportError:
        sys.path.insert(0, {standin_dir!r})
    from ten_runtime import (Addon, App, AsyncExtension, AsyncExtensionTester, Cmd, CmdResult,
                             StatusCode, register_addon_as_extension)
    class Raising(AsyncExtension):
        async def on_cmd(self, ten_env, cmd):
            raise ValueError("escaped from on_cmd")

    @register_addon_as_extension("standin_raising")
    class RaisingAddon(Addon):
        def on_create_instance(self, ten_env, name, context):
            ten_env.on_create_instance_done(Raising(name), context)

    class Streamer(AsyncExtension):
        async def on_cmd(self, ten_env, cmd):
            for index in range(3):
                result = CmdResult.create(StatusCode.OK, cmd)
                result.set_final(index == 2)
                await ten_env.return_result(result)

    @register_addon_as_extension("standin_streamer")
    class StreamerAddon(Addon):
        def on_create_instance(self, ten_env, name, context):
            ten_env.on_create_instance_done(Streamer(name), context)

    class SendAndReport(AsyncExtensionTester):
        async def on_start(self, ten_env):
            result, error = await ten_env.send_cmd(Cmd.create("anything"))
            print("RESULT", None if result is None else int(result.get_status_code()), flush=True)
            ten_env.stop_test()

    class BareApp(App):
        def on_init(self, ten_env):
            started.set()
            ten_env.on_init_done()

    started = threading.Event()
    def run_app():
        app = BareApp()
        holder.append(app)
        app.run(False)
    holder = []
    threading.Thread(target=run_app, daemon=True).start()
    started.wait(30)
    tester = SendAndReport()
    tester.set_test_mode_single(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    tester.set_timeout(20_000_000)
    print("RUN", tester.run(), flush=True)
    holder[0].close()
    """
)


def run_in_own_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "fatal_session.py"
    script.write_text(
        FATAL_SCRIPT.format(extension_dir=str(EXTENSION_DIR), standin_dir=str(STANDIN_DIR))
    )
    env = dict(os.environ, TEN_STANDIN_FATAL_EXIT="1")
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=str(tmp_path),
    )


def test_an_exception_escaping_on_cmd_ends_the_process_before_any_result(tmp_path):
    done = run_in_own_process(tmp_path, "standin_raising")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "RESULT" not in done.stdout, done.stdout


def test_a_property_that_misfits_its_declared_type_aborts_the_process(tmp_path, typed_extension):
    done = run_in_own_process(tmp_path, typed_extension, json.dumps({"rate": "24000"}))
    assert done.returncode == -signal.SIGABRT, (done.returncode, done.stderr[-3000:])
    assert "RESULT" not in done.stdout


def test_a_plain_send_cmd_of_a_streamed_answer_fails_an_assertion_that_ends_the_process(tmp_path):
    done = run_in_own_process(tmp_path, "standin_streamer")
    assert done.returncode != 0, done.stdout
    assert "RESULT" not in done.stdout and "RUN" not in done.stdout
    assert "is_completed" in done.stderr + done.stdout


# -- 5. an object whose keys collide once cut at U+0000 aborts whoever reads it as JSON -------
COLLIDING_KEYS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{extension_dir!r}]
    try:
        import ten_runtime
    except ImportError:
        sys.path.insert(0, {standin_dir!r})
    from ten_runtime import Data
    data = Data.create("tts_audio_start")
    metadata = {{"turn_id\\u0000": 1, "turn_id": 2, "a\\u0000b": 3}}
    payload = {{"request_id": "r\\u0000x", "metadata": metadata}}
    print("SET", data.set_property_from_json(None, json.dumps(payload)), flush=True)
    print("STRING", data.get_property_string("request_id"), flush=True)
    turn_id, a = data.get_property_int("metadata.turn_id"), data.get_property_int("metadata.a")
    print("INT", turn_id, a, flush=True)
    print("CLONE", data.clone().get_property_to_json("request_id"), flush=True)
    data.get_property_to_json(sys.argv[1])
    print("READ", flush=True)
    """
)


def run_script_in_own_process(tmp_path: Path, script_text: str, *args: str):
    script = tmp_path / "script.py"
    script.write_text(
        script_text.format(extension_dir=str(EXTENSION_DIR), standin_dir=str(STANDIN_DIR))
    )
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, TEN_STANDIN_FATAL_EXIT="1"),
        timeout=120,
        cwd=str(tmp_path),
    )


@pytest.mark.parametrize("path", ["", "metadata"])
def test_reading_an_object_whose_keys_collide_at_u0000_as_json_aborts_the_process(tmp_path, path):
    # The sender's set_property_from_json succeeds; TEN cuts keys and strings at U+0000,
    # the typed getters read the first of the colliding keys, and the JSON read of any
    # object holding them fails ten_json_object_set's assertion (SIGABRT).
    done = run_script_in_own_process(tmp_path, COLLIDING_KEYS_SCRIPT, path)
    assert done.returncode == -signal.SIGABRT, (done.returncode, done.stdout, done.stderr[-3000:])
    assert done.stdout.splitlines() == [
        "SET None",
        "STRING ('r', None)",
        "INT (1, None) (3, None)",
        "CLONE ('\"r\"', None)",
    ], done.stdout


# -- 6. an integer above int64 is held as uint64, which TEN cannot write as JSON -------------
UINT64_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{extension_dir!r}]
    try:
        import ten_runtime
    except ImportError:
        sys.path.insert(0, {standin_dir!r})
    from ten_runtime import Data
    for number in (2**63 - 1, 2**64, -(2**63) - 1, int(sys.argv[1])):
        data = Data.create("tts_audio_end")
        payload = {{"request_id": "r", "metadata": {{"n": number}}}}
        print("SET", data.set_property_from_json(None, json.dumps(payload)), flush=True)
        print("STRING", data.get_property_string("request_id"), flush=True)
        print("JSON", json.loads(data.get_property_to_json("metadata")[0]), flush=True)
    """
)


@pytest.mark.parametrize("number", [2**63, 2**64 - 1])
def test_reading_an_integer_above_int64_as_json_aborts_the_process(tmp_path, number):
    # Below int64 and beyond uint64 a JSON integer is read back (as a float past int64);
    # in between TEN holds a uint64, and its JSON writer asserts "too large" (SIGABRT).
    done = run_script_in_own_process(tmp_path, UINT64_SCRIPT, str(number))
    assert done.returncode == -signal.SIGABRT, (done.returncode, done.stdout, done.stderr[-3000:])
    read_back = [{"n": 2**63 - 1}, {"n": float(2**64)}, {"n": float(-(2**63) - 1)}]
    each = ("SET None", "STRING ('r', None)")
    expected = [line for value in read_back for line in (*each, f"JSON {value}")]
    assert done.stdout.splitlines() == [*expected, *each], done.stdout


def test_nan_infinity_and_numbers_beyond_a_double_are_refused_as_invalid_json():
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}'):
        data = Data.create("x")
        error = data.set_property_from_json(None, text)
        assert error is not None and error.error_code() == 2, text
        assert data.get_property_to_json("") == ("{}", None), text
    data = Data.create("x")
    assert data.set_property_from_json(None, '{"a": 1e308}') is None
    assert json.loads(data.get_property_to_json("a")[0]) == 1e308


@pytest.mark.parametrize("message_class", [Data, AudioFrame])
def test_a_str_argument_holding_u0000_is_refused_by_the_property_methods(message_class):
    message = message_class.create("x")
    refused = [
        lambda: message.set_property_string("metadata", "a\x00b"),
        lambda: message.set_property_string("meta\x00data", "x"),
        lambda: message.set_property_from_json("metadata", '"a\x00b"'),
        lambda: message.set_property_int("meta\x00data", 1),
        lambda: message.get_property_to_json("meta\x00data"),
        lambda: message.get_property_string("meta\x00data"),
    ]
    for call in refused:
        with pytest.raises(ValueError, match=r"Failed to parse arguments\."):
            call()
    assert message.get_property_to_json("") == ("{}", None)  # nothing was set
