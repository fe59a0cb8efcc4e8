"""Extension base classes. The stand-in runs AsyncExtension; the synchronous Extension is
here so imports work, and the runtime refuses to run it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .messages import AudioFrame, Cmd, Data, VideoFrame
    from .ten_env import AsyncTenEnv, TenEnv


class Extension:
    def __init__(self, name: str) -> None:
        self.name = name

    def on_configure(self, ten_env: "TenEnv") -> None: ...
    def on_init(self, ten_env: "TenEnv") -> None: ...
    def on_start(self, ten_env: "TenEnv") -> None: ...
    def on_stop(self, ten_env: "TenEnv") -> None: ...
    def on_deinit(self, ten_env: "TenEnv") -> None: ...


class AsyncExtension:
    def __init__(self, name: str) -> None:
        self.name = name

    async def on_configure(self, ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_init(self, ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_start(self, ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_stop(self, ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_deinit(self, ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_cmd(self, ten_env: "AsyncTenEnv", cmd: "Cmd") -> None:
        pass

    async def on_data(self, ten_env: "AsyncTenEnv", data: "Data") -> None:
        pass

    async def on_audio_frame(self, ten_env: "AsyncTenEnv", audio_frame: "AudioFrame") -> None:
        pass

    async def on_video_frame(self, ten_env: "AsyncTenEnv", video_frame: "VideoFrame") -> None:
        pass
