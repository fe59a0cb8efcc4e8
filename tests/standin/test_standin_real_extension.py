"""The real extension package, loaded the way a TEN app loads it (repo root, through its
addon.py), answers a `flush` with OK. Runs under the real runtime too."""

import json

from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester, Cmd, StatusCode

# A complete valid configuration whose endpoints are unreachable loopback ports.
PROPERTIES = {
    "params": {
        "spatius_api_key": "k", "spatius_app_id": "a", "spatius_avatar_id": "av",
        "agora_appid": "x", "agora_token": "007tok", "agora_channel": "c",
        "agora_uid": "2001", "audio_format": "pcm_s16le",
    },
    "console_endpoint_url": "http://127.0.0.1:9/v1/console",
    "ingress_endpoint_url": "ws://127.0.0.1:9/v2/driveningress",
    "telemetry": "off",
}


class FlushOnce(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.status: StatusCode | None = None
        self.error = None

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
