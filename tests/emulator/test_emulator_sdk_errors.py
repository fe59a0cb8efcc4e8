"""The unmodified SDK, against the emulator, reports each refusal with the right code."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import spatius
from spatius import AvatarSDKError, AvatarSDKErrorCode as Code, SessionTokenError
from spatius_emulator.pytest_plugin import TestEmulator
from spatius_emulator.sdk_client import new_sdk_session

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")


async def start_session(emulator, **overrides) -> spatius.AvatarSession:
    session = new_sdk_session(emulator, **overrides)
    await session.init()
    await session.start()
    return session


async def init_and_start(session: spatius.AvatarSession) -> None:
    """Either step may be the one refused: what a test checks is the error's phase."""
    await session.init()
    await session.start()


async def start_error(emulator, **overrides) -> AvatarSDKError:
    session = new_sdk_session(emulator, **overrides)
    try:
        with pytest.raises(AvatarSDKError) as raised:
            await init_and_start(session)
    finally:
        await session.close()
    return raised.value


async def test_valid_session_is_confirmed_and_recorded(emulator):
    session = new_sdk_session(emulator)
    await session.init()
    connection_id = await session.start()
    await session.close()

    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.connection_id == connection_id
    assert conn.avatar_id == emulator.avatar_id and conn.app_id == emulator.app_id
    assert conn.auth_mode == "header"
    assert conn.sample_rate == 24000 and conn.audio_format == "pcm_s16le"
    assert conn.egress_type == "agora"
    assert conn.agora.channel_name == emulator.agora_channel and conn.agora.uid == 2001
    assert conn.configure["agora_egress"]["publisher_id"] == "spatius-avatar-2001"
    assert conn.closed_by == "client" and conn.close_code == 1000
    (token_request,) = emulator.recording.token_requests
    assert token_request.status == 200 and token_request.api_key == emulator.api_key
    assert conn.session_token == token_request.session_token


async def test_query_auth_is_accepted(emulator):
    session = await start_session(emulator, use_query_auth=True)
    await session.close()
    assert emulator.recording.sessions[0].auth_mode == "query"


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, Code.sessionTokenExpired), (402, Code.billingRequired), (404, Code.appIDUnrecognized)],
)
async def test_scripted_token_refusals(emulator, status, code):
    emulator.faults.refuse_token(status)
    error = await start_error(emulator)
    assert isinstance(error, SessionTokenError)
    assert (error.code, error.phase, error.http_status) == (code, "session_token", status)
    assert emulator.recording.connections == []


async def test_wrong_api_key_is_refused_with_401(emulator):
    error = await start_error(emulator, api_key="not-a-key")
    assert (error.code, error.http_status) == (Code.sessionTokenExpired, 401)


async def test_expire_at_in_the_past_is_a_bad_request(emulator):
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    error = await start_error(emulator, expire_at=past)
    assert (error.code, error.http_status) == (Code.invalidRequest, 400)
    assert "future" in error.server_detail


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, Code.sessionTokenInvalid),
        (401, Code.sessionTokenExpired),
        (404, Code.avatarNotFound),
        (500, Code.serverError),
        (503, Code.serverError),
    ],
)
async def test_scripted_upgrade_refusals(emulator, status, code):
    emulator.faults.refuse_upgrade(status)
    error = await start_error(emulator)
    assert (error.code, error.phase, error.http_status) == (code, "websocket_connect", status)
    (conn,) = emulator.recording.connections
    assert conn.refused_status == status and conn.connection_id is None


async def test_unknown_avatar_is_not_found(emulator):
    error = await start_error(emulator, avatar_id="no-such-avatar")
    assert (error.code, error.http_status) == (Code.avatarNotFound, 404)
    assert error.server_detail == "Avatar not found"


async def test_unknown_app_id_is_unrecognized(emulator):
    error = await start_error(emulator, app_id="other-app")
    assert (error.code, error.http_status) == (Code.appIDUnrecognized, 404)


async def test_session_token_from_another_console_is_invalid(emulator, emulator_config):
    # The token comes from a second emulator's console, so this ingress never issued it.
    with TestEmulator(emulator_config) as other:
        error = await start_error(emulator, console_endpoint_url=other.console_url)
    assert (error.code, error.http_status) == (Code.sessionTokenInvalid, 400)
    assert error.server_detail == "Invalid session token"


@pytest.mark.parametrize(
    ("code", "expected"),
    [(16, Code.invalidEgressConfig), (14, Code.egressUnavailable), (3, Code.invalidRequest)],
)
async def test_scripted_handshake_errors(emulator, code, expected):
    emulator.faults.handshake_error(code)
    error = await start_error(emulator)
    assert (error.code, error.phase, error.server_code) == (
        expected,
        "websocket_handshake",
        str(code),
    )
    (conn,) = emulator.recording.connections
    assert conn.handshake_error.code == code and conn.connection_id is None


@pytest.mark.parametrize("sample_rate", [11025, 96000])
async def test_unsupported_pcm_sample_rate(emulator, sample_rate):
    error = await start_error(emulator, sample_rate=sample_rate)
    assert (error.code, error.phase) == (Code.unsupportedSampleRate, "websocket_handshake")


async def test_pcm_only_rate_is_refused_for_ogg_opus(emulator):
    # 44100 Hz is fine for PCM but not for Ogg Opus.
    error = await start_error(
        emulator, sample_rate=44100, audio_format=spatius.AudioFormat.OGG_OPUS
    )
    assert error.code == Code.unsupportedSampleRate
    session = await start_session(emulator, sample_rate=44100)
    await session.close()


async def test_every_allowed_rate_is_accepted(emulator):
    for audio_format, rates in [
        (spatius.AudioFormat.PCM_S16LE, (8000, 16000, 22050, 24000, 32000, 44100, 48000)),
        (spatius.AudioFormat.OGG_OPUS, (8000, 12000, 16000, 24000, 48000)),
    ]:
        for rate in rates:
            session = await start_session(emulator, sample_rate=rate, audio_format=audio_format)
            await session.close()
    assert len(emulator.recording.sessions) == 12


@pytest.mark.parametrize(
    ("egress_fields", "reason"),
    [({"channel_name": ""}, "channel_name"), ({"uid": 0}, "uid is 0")],
)
async def test_incomplete_agora_egress_is_unauthorized(emulator, egress_fields, reason):
    egress = spatius.AgoraEgressConfig(
        channel_name=emulator.agora_channel, token="", uid=2001, publisher_id="p"
    )
    for name, value in egress_fields.items():
        setattr(egress, name, value)
    error = await start_error(emulator, agora_egress=egress)
    assert (error.code, error.server_code) == (Code.invalidEgressConfig, "16")
    assert reason in error.server_detail


async def test_plain_websocket_refused_unless_allowed(emulator):
    error = await start_error(emulator, egress=False)
    assert (error.code, error.server_code) == (Code.invalidEgressConfig, "3")
    emulator.config.allow_plain_websocket = True
    session = await start_session(emulator, egress=False)
    await session.close()
    assert emulator.recording.sessions[0].egress_type is None


async def test_livekit_egress_is_unavailable(emulator):
    livekit = spatius.LiveKitEgressConfig(url="wss://lk.invalid", api_token="t", room_name="r")
    error = await start_error(emulator, egress=False, livekit_egress=livekit)
    assert (error.code, error.server_code) == (Code.egressUnavailable, "14")


async def test_silent_handshake_times_out_in_the_sdk(emulator, monkeypatch):
    # The SDK waits 10 s for the handshake answer; shorten its wait, not the emulator's.
    monkeypatch.setattr("spatius.avatar_session.HANDSHAKE_TIMEOUT_S", 0.3)
    emulator.faults.handshake_silence()
    error = await start_error(emulator)
    assert (error.code, error.phase) == (Code.connectionFailed, "websocket_handshake")
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.configure is not None and conn.connection_id is None
    assert conn.errors_sent == []


async def test_delayed_handshake_still_confirms(emulator):
    emulator.faults.delay_handshake(0.2)
    session = await start_session(emulator)
    await session.close()
    (conn,) = emulator.recording.sessions
    assert conn.confirmed_at - conn.opened_at >= 0.2


async def test_fault_targets_next_nth_and_every(emulator):
    emulator.faults.refuse_upgrade(404, which=2)
    emulator.faults.refuse_upgrade(500)  # "next": connection 1
    assert (await start_error(emulator)).http_status == 500
    assert (await start_error(emulator)).http_status == 404
    session = await start_session(emulator)
    await session.close()
    emulator.faults.refuse_token(402, which="every")
    for _ in range(2):
        assert (await start_error(emulator)).code == Code.billingRequired
    emulator.faults.clear()
    session = await start_session(emulator)
    await session.close()
