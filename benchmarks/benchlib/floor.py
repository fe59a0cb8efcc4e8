"""The floor: the bare `spatius` SDK, no extension, no TEN. N sessions on one asyncio loop,
each `send_audio` per 20 ms frame at real-time pace (Ogg Opus through the SDK's own
`ogg_opus_encoder`, i.e. encoded on the loop inside `send_audio`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import spatius
from spatius import AgoraEgressConfig, AudioFormat, OggOpusEncoderConfig

from spatius_emulator.sdk_client import publisher_token


@dataclass
class FloorSession:
    index: int
    sent_at: list[float] = field(default_factory=list)
    due_at: list[float] = field(default_factory=list)  # when the real-time schedule wanted it sent
    frame_bytes: list[int] = field(default_factory=list)
    confirmed_at: float | None = None
    error: str | None = None


def new_floor_session(
    properties: dict[str, Any], index: int, audio_format: str, sample_rate: int = 24000
) -> Any:
    params = properties["params"]
    uid = 2000 + index
    channel = f"bench-{index}"
    opus = audio_format == "ogg_opus"
    return spatius.new_avatar_session(
        avatar_id=f"avatar-{index}",
        api_key=params["spatius_api_key"],
        app_id=params["spatius_app_id"],
        expire_at=datetime.now(timezone.utc) + timedelta(minutes=30),
        sample_rate=sample_rate,
        audio_format=AudioFormat.OGG_OPUS if opus else AudioFormat.PCM_S16LE,
        ogg_opus_encoder=OggOpusEncoderConfig() if opus else None,
        console_endpoint_url=properties["console_endpoint_url"],
        ingress_endpoint_url=properties["ingress_endpoint_url"],
        agora_egress=AgoraEgressConfig(
            channel_name=channel,
            token=publisher_token(params["agora_appid"], params["agora_appcert"], channel, uid),
            uid=uid,
            publisher_id=f"spatius-avatar-{uid}",
        ),
    )


async def stream_floor_session(
    session: Any,
    record: FloorSession,
    frames: list[bytes],
    start_at: float,
    frame_s: float,
    pace: float = 1.0,
) -> None:
    """Opens the session, then from `start_at` (perf_counter) sends one frame per slot."""
    try:
        await session.init()
        await session.start()
        record.confirmed_at = time.perf_counter()
        for k, frame in enumerate(frames):
            due = start_at + k * frame_s / pace
            delay = due - time.perf_counter()
            await asyncio.sleep(delay if delay > 0 else 0)
            record.due_at.append(due)
            record.sent_at.append(time.perf_counter())
            record.frame_bytes.append(len(frame))
            await session.send_audio(frame, end=False)
        await session.send_audio(b"", end=True)
    except Exception as error:  # reported in the result, never hidden
        record.error = repr(error)
