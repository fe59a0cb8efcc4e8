"""AsyncTenEnv: the env of an AsyncExtension (messaging, its properties, logging), and the
messaging methods it shares with AsyncTenEnvTester."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from .audio_frame import AudioFrame
from .cmd import Cmd
from .cmd_result import CmdResult
from .data import Data
from .error import TenError, generic_error
from .msg import Msg
from .properties import deep_merge
from .property_store import PropertyStore
from .recording import RunRecord
from .send_options import SendOptions
from .ten_env import TenEnv
from .ten_env_base import TenEnvBase
from .video_frame import VideoFrame

if TYPE_CHECKING:
    from .global_thread_manager import GlobalThreadManager
    from .node_host import NodeHost


async def runtime_verdict(error: TenError | None) -> TenError | None:
    """What a send with wait_for_result returns: the real runtime answers through a
    callback posted to the loop, so the caller yields to the loop before it gets it."""
    loop = asyncio.get_running_loop()
    verdict: asyncio.Future[TenError | None] = loop.create_future()
    loop.call_soon(verdict.set_result, error)
    return await verdict


class MessagingMethods:
    """Sending and answering messages: shared by AsyncTenEnv and AsyncTenEnvTester."""

    _host: "NodeHost"

    async def send_cmd(self, cmd: Cmd) -> tuple[CmdResult | None, TenError | None]:
        if not isinstance(cmd, Cmd):
            return None, generic_error(f"send_cmd needs a Cmd, not {type(cmd).__name__}")
        result, error = await self._host.runtime.send_cmd(self._host, cmd)
        # As the real one: a streamed (non-final) first result fails this assertion in the
        # caller's callback, which ends the process. Use send_cmd_ex for streamed answers.
        if result is not None:
            assert result.is_completed(), (
                f"send_cmd('{cmd.get_name()}') got a streamed (non-final) result: "
                "result.is_completed() is False (use send_cmd_ex)"
            )
        return result, error

    async def send_cmd_ex(
        self, cmd: Cmd
    ) -> AsyncGenerator[tuple[CmdResult | None, TenError | None], None]:
        if not isinstance(cmd, Cmd):
            yield None, generic_error(f"send_cmd_ex needs a Cmd, not {type(cmd).__name__}")
            return
        async for result in self._host.runtime.send_cmd_ex(self._host, cmd):
            yield result

    async def send_data(self, data: Data, options: SendOptions | None = None) -> TenError | None:
        return await self._send(data, Data, options)

    async def send_audio_frame(
        self, audio_frame: AudioFrame, options: SendOptions | None = None
    ) -> TenError | None:
        return await self._send(audio_frame, AudioFrame, options)

    async def send_video_frame(
        self, video_frame: VideoFrame, options: SendOptions | None = None
    ) -> TenError | None:
        return await self._send(video_frame, VideoFrame, options)

    async def return_result(
        self, result: CmdResult, options: SendOptions | None = None
    ) -> TenError | None:
        if not isinstance(result, CmdResult):
            return generic_error(f"return_result needs a CmdResult, not {type(result).__name__}")
        error = self._host.runtime.return_result(self._host, result)
        if options is not None and options.wait_for_result:
            return await runtime_verdict(error)
        return error

    async def _send(
        self, msg: Msg, expected: type[Msg], options: SendOptions | None
    ) -> TenError | None:
        if not isinstance(msg, expected):
            return generic_error(f"expected {expected.__name__}, got {type(msg).__name__}")
        wait = bool(options is not None and options.wait_for_result)
        error = self._host.runtime.send_message(self._host, msg, wait)
        return await runtime_verdict(error) if wait else error


class AsyncTenEnv(MessagingMethods, TenEnvBase):
    def __init__(
        self,
        ten_env: TenEnv,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        global_thread_manager: "GlobalThreadManager | None",
    ) -> None:
        host = ten_env._internal.host
        if host is None:
            raise ValueError(
                "the stand-in builds an AsyncTenEnv on the TenEnv of a graph node only"
            )
        self._ten_env = ten_env
        self._ten_env_loop = loop
        self._ten_env_thread = thread
        self._host = host

    def _log_target(self) -> tuple[RunRecord | None, str]:
        return self._host.runtime.record, self._host.name

    async def get_property_to_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        return self._host.properties.get_json(path)

    async def set_property_from_json(self, path: str, json_str: str) -> TenError | None:
        return self._host.properties.set_json(path, json_str)

    async def init_property_from_json(self, json_str: str) -> TenError | None:
        store = PropertyStore()
        error = store.set_json(None, json_str)
        if error is None:
            self._host.properties.data = deep_merge(self._host.properties.data, store.data)
        return error

    async def get_property_int(self, path: str) -> tuple[int, TenError | None]:
        return self._host.properties.get_int(path)

    async def get_property_string(self, path: str) -> tuple[str, TenError | None]:
        return self._host.properties.get_string(path)  # type: ignore[return-value]

    async def get_property_bool(self, path: str) -> tuple[bool, TenError | None]:
        return self._host.properties.get_bool(path)

    async def get_property_float(self, path: str) -> tuple[float, TenError | None]:
        return self._host.properties.get_float(path)

    async def set_property_int(self, path: str, value: int) -> TenError | None:
        return self._host.properties.set_int(path, value)

    async def set_property_string(self, path: str, value: str) -> TenError | None:
        return self._host.properties.set_string(path, value)

    async def set_property_bool(self, path: str, value: int) -> TenError | None:
        return self._host.properties.set_bool(path, bool(value))

    async def set_property_float(self, path: str, value: float) -> TenError | None:
        return self._host.properties.set_float(path, value)

    async def is_property_exist(self, path: str) -> tuple[bool, TenError | None]:
        return self._host.properties.exists(path), None


__all__ = ["AsyncTenEnv", "MessagingMethods", "runtime_verdict"]
