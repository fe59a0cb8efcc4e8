"""The real extension package, loaded the way a TEN app loads it (repo root, through its
addon.py), answers a `flush` with OK. Runs under the real runtime too."""

import json

from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester, Cmd, StatusCode, TenError

# A complete valid configuration whose endpoints are unreachable loopback ports.
PROPERTIES = {
    "params": {
        "spatius_api_key": "k",
        "spatius_app_id": "a",
        "spatius_avatar_id": "av",
        "agora_appid": "x",
        "agora_token": "007tok",
        "agora_channel": "c",
        "agora_uid": "2001",
        "audio_format": "pcm_s16le",
    },
    "console_endpoint_url": "http://127.0.0.1:9/v1/console",
    "ingress_endpoint_url": "ws://127.0.0.1:9/v2/driveningress",
    "telemetry": "off",
}


class FlushOnce(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.status: StatusCode | None = None
        self.error: TenError | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        result, self.error = await ten_env.send_cmd(Cmd.create("flush"))
        if result is not None:
            self.status = result.get_status_code()
        ten_env.stop_test()


def test_real_extension_answers_flush_ok():
    tester = FlushOnce()
    tester.set_test_mode_single("spatius_avatar_python", json.dumps(PROPERTIES))
    error = tester.run()
    assert error is None, error.error_message()
    assert tester.error is None
    assert tester.status == StatusCode.OK
    try:
        from ten_runtime import standin
    except ImportError:
        return  # the real runtime: nothing more to inspect
    record = standin.last_run()
    info = record.nodes["spatius_avatar_python"]
    assert info.manifest["name"] == "spatius_avatar_python" and info.folder is not None
    import sys

    assert "ten_packages.extension.spatius_avatar_python.addon" in sys.modules
    assert record.fatal_errors == []


def test_importing_only_the_package_registers_the_addon(tmp_path):
    """What the real Python addon loader does: import `ten_packages.extension.<name>` and
    nothing else. In a fresh process, so no earlier import can have registered it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pytest

    pytest.importorskip("ten_runtime.standin", reason="loads the folder with the stand-in's loader")
    repo = Path(__file__).resolve().parents[2]
    probe = (
        "import sys\n"
        "from ten_runtime.addon_manager import registered_addons, resolve_addon\n"
        "info = resolve_addon('spatius_avatar_python')\n"
        "assert 'ten_packages.extension.spatius_avatar_python.addon' in sys.modules\n"
        "print(info.addon_class.__module__, registered_addons())\n"
    )
    environ = {
        **os.environ,
        "TEN_STANDIN_EXTENSION_PATH": str(repo),
        "PYTHONPATH": str(repo / "testbed" / "ten_runtime_standin"),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "ten_packages.extension.spatius_avatar_python.addon"


def test_the_inputs_a_tts_or_main_control_sends_are_declared_by_name_only():
    """With a property schema the runtime drops a payload that misfits it and aborts the
    process on an empty-string key; the extension checks these payloads itself."""
    from pathlib import Path

    manifest = json.loads((Path(__file__).resolve().parents[2] / "manifest.json").read_text())
    api = manifest["api"]
    inputs = api["cmd_in"] + api["data_in"] + api["audio_frame_in"]
    assert {entry["name"] for entry in api["data_in"]} == {
        "tts_audio_start",
        "tts_audio_end",
        "finalize",
    }
    assert [entry["name"] for entry in api["audio_frame_in"]] == ["pcm_frame"]
    assert [entry for entry in inputs if set(entry) != {"name"}] == []
