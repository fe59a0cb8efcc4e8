"""fake_sink: records every cmd (answered OK), data and frame it receives, with the
receive time, into the records under its node name."""

from __future__ import annotations

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
    VideoFrame,
    register_addon_as_extension,
)

from .capture import capture
from .records import registry


class FakeSink(AsyncExtension):
    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        registry.add_received(self.name, capture("cmd", cmd))
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    async def on_data(self, ten_env: AsyncTenEnv, data: Data) -> None:
        registry.add_received(self.name, capture("data", data))

    async def on_audio_frame(self, ten_env: AsyncTenEnv, audio_frame: AudioFrame) -> None:
        registry.add_received(self.name, capture("audio_frame", audio_frame))

    async def on_video_frame(self, ten_env: AsyncTenEnv, video_frame: VideoFrame) -> None:
        registry.add_received(self.name, capture("video_frame", video_frame))


@register_addon_as_extension("fake_sink")
class FakeSinkAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(FakeSink(name), context)
