"""The in-process APIs: the fixtures, EmulatorThread from a blocked thread, SpatiusEmulator."""

from __future__ import annotations

import asyncio
import threading

import pytest
from spatius import AvatarSDKError, AvatarSDKErrorCode as Code
from spatius_emulator import EmulatorConfig, SpatiusEmulator
from spatius_emulator.sdk_client import new_sdk_session

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")


def test_emulator_props_point_at_the_emulator(emulator, emulator_props):
    assert emulator_props["console_endpoint_url"] == emulator.console_url
    assert emulator_props["ingress_endpoint_url"] == emulator.ingress_url
    assert emulator_props["telemetry"] == "off"
    assert emulator_props["params"] == {
        "spatius_api_key": emulator.api_key,
        "spatius_app_id": emulator.app_id,
        "spatius_avatar_id": emulator.avatar_id,
        "agora_appid": emulator.agora_app_id,
        "agora_appcert": emulator.agora_app_cert,
        "agora_channel": emulator.agora_channel,
        "agora_uid": "2001",
    }
    assert emulator.console_url.startswith("http://127.0.0.1:")


def test_main_thread_waits_while_a_client_runs_on_another_loop(emulator):
    """As in an extension test: the client's loop runs in its own thread."""
    outcome: list[object] = []

    async def client() -> None:
        for _ in range(2):
            session = new_sdk_session(emulator)
            try:
                await session.init()
                await session.start()
                await session.send_audio(b"\x00\x00" * 480, end=True)
                outcome.append("ok")
            except AvatarSDKError as exc:
                outcome.append(exc.code)
            finally:
                await session.close()

    # Scripted from this thread before the client's second connection exists.
    emulator.faults.refuse_upgrade(404, which=2)
    thread = threading.Thread(target=lambda: asyncio.run(client()))
    thread.start()
    (request,) = emulator.wait_for_ended_requests(1, timeout=10)
    assert request.byte_count == 960
    closed = emulator.wait_for_closed(2, timeout=10)
    thread.join(10)
    assert outcome == ["ok", Code.avatarNotFound]
    assert [c.refused_status for c in closed] == [None, 404]


def test_wait_for_times_out_with_a_clear_error(emulator):
    with pytest.raises(TimeoutError, match=r"within 0\.1s"):
        emulator.wait_for_sessions(1, timeout=0.1)


async def test_spatius_emulator_runs_on_the_callers_loop():
    emulator = SpatiusEmulator(EmulatorConfig(allow_plain_websocket=True))
    await emulator.start()
    try:
        creds = _Creds(emulator)
        session = new_sdk_session(creds, egress=False, app_id="any-app", api_key="any-key")
        await session.init()
        await session.start()
        await session.send_audio(b"\x00\x00" * 480, end=True)
        ended = await emulator.wait_for(
            lambda: [r for s in emulator.recording.sessions for r in s.requests if r.ended]
        )
        assert ended[0].duration_s == pytest.approx(480 / 24000)
        await session.close()
    finally:
        await emulator.stop()
    with pytest.raises(RuntimeError):
        emulator.console_url  # noqa: B018  (stopped: no URL any more)


class _Creds:
    def __init__(self, emulator: SpatiusEmulator) -> None:
        self.console_url, self.ingress_url = emulator.console_url, emulator.ingress_url
        self.api_key = self.app_id = self.avatar_id = "x"
        self.agora_app_id = self.agora_app_cert = self.agora_channel = ""
        self.agora_uid = "1"
