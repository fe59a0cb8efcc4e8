"""No permessage-deflate on the avatar's WebSocket, against an emulator that accepts it.

Audio does not compress: a session that negotiated deflate runs zlib over every send for
nothing. `new_uncompressed_session` (what the extension creates its sessions with) must not
offer it; the SDK's own `new_avatar_session` does, which proves the emulator here accepts it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import spatius
from spatius_emulator.sdk_client import new_sdk_session, publisher_token
from speech_fixtures import speech_pcm

from spatius_avatar_python import transport
from spatius_avatar_python.transport import new_uncompressed_session

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")

EXTENSIONS = "Sec-WebSocket-Extensions"


def _session_kwargs(emulator: Any) -> dict[str, Any]:
    uid = int(emulator.agora_uid)
    return {
        "avatar_id": emulator.avatar_id,
        "api_key": emulator.api_key,
        "app_id": emulator.app_id,
        "sample_rate": 24000,
        "console_endpoint_url": emulator.console_url,
        "ingress_endpoint_url": emulator.ingress_url,
        "agora_egress": spatius.AgoraEgressConfig(
            channel_name=emulator.agora_channel,
            token=publisher_token(
                emulator.agora_app_id, emulator.agora_app_cert, emulator.agora_channel, uid
            ),
            uid=uid,
            publisher_id=f"spatius-avatar-{uid}",
        ),
    }


def _negotiated(session: Any) -> tuple[str | None, str | None, list[Any]]:
    """(extensions the client offered, extensions the server agreed to, extensions in use)."""
    connection = session._connection  # the SDK keeps its websockets connection there
    return (
        connection.request.headers.get(EXTENSIONS),
        connection.response.headers.get(EXTENSIONS),
        list(connection.protocol.extensions),
    )


def test_the_stand_in_is_in_place():
    assert transport.INSTALLED


async def test_the_sdk_alone_negotiates_deflate_with_this_emulator(emulator):
    assert emulator.config.websocket_compression  # the emulator accepts deflate when offered
    session = new_sdk_session(emulator)
    await session.init()
    await session.start()
    try:
        offered, agreed, in_use = _negotiated(session)
    finally:
        await session.close()
    assert offered is not None and "permessage-deflate" in offered
    assert agreed is not None and "permessage-deflate" in agreed
    assert in_use, "the SDK's session should compress here; the test below would prove nothing"


@pytest.mark.parametrize(
    "audio_format", [spatius.AudioFormat.OGG_OPUS, spatius.AudioFormat.PCM_S16LE]
)
async def test_our_session_offers_no_compression_and_its_audio_arrives(emulator, audio_format):
    assert emulator.config.websocket_compression
    session = new_uncompressed_session(
        **_session_kwargs(emulator),
        audio_format=audio_format,
        ogg_opus_encoder=spatius.OggOpusEncoderConfig()
        if audio_format is spatius.AudioFormat.OGG_OPUS
        else None,
    )
    await session.init()
    await session.start()
    pcm = speech_pcm(24000, 1.0)
    try:
        offered, agreed, in_use = _negotiated(session)
        req_id = ""
        for start in range(0, len(pcm), 960):
            req_id = await session.send_audio(pcm[start : start + 960], end=start + 960 >= len(pcm))
    finally:
        await session.close()
    assert offered is None and agreed is None and in_use == []
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    request = conn.request(req_id)
    assert request.ended
    assert request.duration_s == pytest.approx(1.0, abs=0.03)


async def test_another_sdk_user_in_the_process_keeps_the_sdk_default(emulator):
    """Only sessions made by new_uncompressed_session change: a plain SDK session started at
    the same time still offers deflate."""
    ours = new_uncompressed_session(**_session_kwargs(emulator))
    theirs = new_sdk_session(emulator)
    await asyncio.gather(ours.init(), theirs.init())
    await asyncio.gather(ours.start(), theirs.start())
    try:
        assert _negotiated(ours)[0] is None
        assert "permessage-deflate" in (_negotiated(theirs)[0] or "")
    finally:
        await asyncio.gather(ours.close(), theirs.close())
