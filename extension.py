"""TEN glue for the Spatius avatar: maps TEN callbacks onto the runtime-independent core."""

from ten_runtime import AsyncExtension, AsyncTenEnv, Cmd, CmdResult, StatusCode


class SpatiusAvatarExtension(AsyncExtension):
    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
