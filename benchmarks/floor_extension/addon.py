"""`bench_floor`: the floor of bench_real_runtime, the naive extension a graph author would
write with the bare `spatius` SDK. Same runtime path as the avatar (an AsyncExtension on the
app's shared Python loop, one handler coroutine per message); each `pcm_frame` is handed to
`AvatarSession.send_audio` as it arrives, Ogg Opus encoded by the SDK's own encoder inside
`send_audio` (on the loop) at our libopus settings (complexity 5); `tts_audio_end` ends the
request, `flush` interrupts. No metadata read, no turn tracking, no conditioning (the bench
sends 24 kHz mono), no reconnects: what the avatar does beyond this is what it adds.

Property: the avatar's (params.*, console/ingress endpoint URLs), as bench_real_runtime
builds it. Not a product: benchmark only."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from ten_runtime import (
    Addon,
    AsyncExtension,
    AsyncTenEnv,
    AudioFrame,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
    TenEnv,
    register_addon_as_extension,
)

OPUS_COMPLEXITY = 5  # ours (spatius_avatar_python/opus.py); the SDK's default is 10


def _new_session(props: dict[str, Any]) -> Any:
    import spatius
    from spatius import AgoraEgressConfig, AudioFormat, OggOpusEncoderConfig

    params = props["params"]
    opus = params.get("audio_format", "ogg_opus") == "ogg_opus"
    session = spatius.new_avatar_session(
        avatar_id=params["spatius_avatar_id"],
        api_key=params["spatius_api_key"],
        app_id=params["spatius_app_id"],
        expire_at=datetime.now(timezone.utc) + timedelta(minutes=30),
        sample_rate=int(params.get("sample_rate", 24000)),
        audio_format=AudioFormat.OGG_OPUS if opus else AudioFormat.PCM_S16LE,
        ogg_opus_encoder=OggOpusEncoderConfig() if opus else None,
        console_endpoint_url=props["console_endpoint_url"],
        ingress_endpoint_url=props["ingress_endpoint_url"],
        agora_egress=AgoraEgressConfig(
            channel_name=params["agora_channel"],
            token=params.get("agora_token", ""),
            uid=int(params["agora_uid"]),
            publisher_id=f"spatius-avatar-{params['agora_uid']}",
        ),
    )
    if opus:
        make = session._get_or_create_audio_encoder

        def with_our_complexity() -> Any:
            fresh = session._audio_encoder is None
            encoder = make()
            if fresh:
                import opuslib_next as opuslib

                opuslib.api.encoder.encoder_ctl(
                    encoder._encoder.encoder_state,
                    opuslib.api.ctl.set_complexity,
                    OPUS_COMPLEXITY,
                )
            return encoder

        session._get_or_create_audio_encoder = with_our_complexity  # type: ignore[method-assign]
    return session


class FloorExtension(AsyncExtension):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._session: Any = None
        self._ready = asyncio.Event()
        self._open = False  # a request has audio and no end yet

    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        try:
            text, _ = await ten_env.get_property_to_json(None)
            props = json.loads(text or "{}")
            if "agora_token" not in props["params"]:
                from spatius_emulator.sdk_client import publisher_token  # the bench's test bed

                p = props["params"]
                p["agora_token"] = publisher_token(
                    p["agora_appid"], p["agora_appcert"], p["agora_channel"], int(p["agora_uid"])
                )
            if (
                props.get("telemetry") == "off"
            ):  # as the avatar applies it (bench_real_runtime sets "off")
                import spatius

                try:
                    spatius.configure_telemetry("")
                except Exception:
                    pass
            session = _new_session(props)
            await session.init()
            await session.start()
            self._session = session
            self._ready.set()
        except Exception as error:  # nothing may escape a callback
            ten_env.log_error(f"bench_floor: start failed: {error!r}")

    async def on_stop(self, ten_env: AsyncTenEnv) -> None:
        if self._session is not None:
            try:
                await self._session.close()
            except Exception:
                pass

    async def on_audio_frame(self, ten_env: AsyncTenEnv, audio_frame: AudioFrame) -> None:
        if self._session is None:
            return
        try:
            self._open = True
            await self._session.send_audio(bytes(audio_frame.get_buf()), end=False)
        except Exception as error:
            ten_env.log_error(f"bench_floor: send failed: {error!r}")

    async def on_data(self, ten_env: AsyncTenEnv, data: Data) -> None:
        if data.get_name() == "tts_audio_end" and self._session is not None and self._open:
            self._open = False
            try:
                await self._session.send_audio(b"", end=True)
            except Exception as error:
                ten_env.log_error(f"bench_floor: end failed: {error!r}")

    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        if cmd.get_name() == "flush" and self._session is not None:
            try:
                self._open = False
                await self._session.interrupt()
            except Exception as error:
                ten_env.log_error(f"bench_floor: interrupt failed: {error!r}")
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))


@register_addon_as_extension("bench_floor")
class FloorAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(FloorExtension(name), context)
