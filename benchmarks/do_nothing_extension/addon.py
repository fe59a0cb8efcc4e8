"""`bench_do_nothing`: the baseline of bench_real_runtime. It takes what the avatar takes
(pcm_frame, tts_audio_start/end, cmds) through the same runtime path (an AsyncExtension on
the app's shared Python loop, one handler coroutine per message) and only returns, so a
run with it prices the feeding TTS and the runtime's delivery; the avatar's cost is the
difference."""

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


class DoNothingExtension(AsyncExtension):
    async def on_audio_frame(self, ten_env: AsyncTenEnv, audio_frame: AudioFrame) -> None:
        return None

    async def on_data(self, ten_env: AsyncTenEnv, data: Data) -> None:
        return None

    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))


@register_addon_as_extension("bench_do_nothing")
class DoNothingAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(DoNothingExtension(name), context)
