"""AsyncExtension: the base class of the extensions the stand-in runs. Parameter names as
the real ones (with a leading underscore: the defaults ignore them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .async_ten_env import AsyncTenEnv
    from .audio_frame import AudioFrame
    from .cmd import Cmd
    from .data import Data
    from .ten_env import TenEnv
    from .video_frame import VideoFrame


class ThreadMode:
    """TEN_PYTHON_THREAD_MODE values. The stand-in runs single_thread only (every extension
    of a run on one loop), the real runtime's default."""

    SINGLE_THREAD: str = "single_thread"
    MULTI_THREAD: str = "multi_thread"


def is_single_thread_mode(ten_env: "TenEnv") -> bool:
    return True


class AsyncExtension:
    def __init__(self, name: str) -> None:
        self.name = name

    async def on_configure(self, _ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_init(self, _ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_start(self, _ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_stop(self, _ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_deinit(self, _ten_env: "AsyncTenEnv") -> None:
        pass

    async def on_cmd(self, _ten_env: "AsyncTenEnv", _cmd: "Cmd") -> None:
        pass

    async def on_data(self, _ten_env: "AsyncTenEnv", _data: "Data") -> None:
        pass

    async def on_audio_frame(self, _ten_env: "AsyncTenEnv", _audio_frame: "AudioFrame") -> None:
        pass

    async def on_video_frame(self, _ten_env: "AsyncTenEnv", _video_frame: "VideoFrame") -> None:
        pass
