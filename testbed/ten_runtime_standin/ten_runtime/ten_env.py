"""TenEnv (what addons and apps get) and AsyncTenEnv (what async extensions get)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .error import TenError, generic_error
from .log import LogMethods
from .messages import AudioFrame, Cmd, CmdResult, Data, Msg, VideoFrame
from .property_store import PropertyStore
from .properties import deep_merge
from .recording import RunRecord

if TYPE_CHECKING:
    from .node_host import NodeHost


@dataclass
class SendOptions:
    wait_for_result: bool = False


class TenEnv(LogMethods):
    """The synchronous env of an addon's on_create_instance and of an App's callbacks."""

    def __init__(
        self,
        record: RunRecord | None,
        node: str,
        on_done: Callable[[str, tuple[Any, ...]], None] | None = None,
    ) -> None:
        self._record = record
        self._node = node
        self._on_done = on_done or (lambda _what, _args: None)
        self._properties = PropertyStore()

    def _log_target(self) -> tuple[RunRecord | None, str]:
        return self._record, self._node

    def on_create_instance_done(self, instance: object, context: object) -> None:
        self._on_done("create_instance", (instance, context))

    def on_configure_done(self) -> None:
        self._on_done("configure", ())

    def on_init_done(self) -> None:
        self._on_done("init", ())

    def on_start_done(self) -> None:
        self._on_done("start", ())

    def on_stop_done(self) -> None:
        self._on_done("stop", ())

    def on_deinit_done(self) -> None:
        self._on_done("deinit", ())

    def init_property_from_json(self, json_str: str) -> TenError | None:
        return self._properties.set_json(None, json_str)

    def get_property_to_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        return self._properties.get_json(path)


class MessagingMethods:
    """Sending and answering messages: shared by AsyncTenEnv and AsyncTenEnvTester."""

    _host: "NodeHost"

    async def send_cmd(self, cmd: Cmd) -> tuple[CmdResult | None, TenError | None]:
        if not isinstance(cmd, Cmd):
            return None, generic_error(f"send_cmd needs a Cmd, not {type(cmd).__name__}")
        return await self._host.runtime.send_cmd(self._host, cmd)

    def send_cmd_ex(self, cmd: Cmd) -> AsyncGenerator[tuple[CmdResult | None, TenError | None], None]:
        return self._host.runtime.send_cmd_ex(self._host, cmd)

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
        self, cmd_result: CmdResult, options: SendOptions | None = None
    ) -> TenError | None:
        if not isinstance(cmd_result, CmdResult):
            return generic_error(f"return_result needs a CmdResult, not {type(cmd_result).__name__}")
        return self._host.runtime.return_result(self._host, cmd_result)

    async def _send(self, msg: Msg, expected: type[Msg], options: SendOptions | None) -> TenError | None:
        if not isinstance(msg, expected):
            return generic_error(f"expected {expected.__name__}, got {type(msg).__name__}")
        wait = bool(options is not None and options.wait_for_result)
        return self._host.runtime.send_message(self._host, msg, wait)


class AsyncTenEnv(MessagingMethods, LogMethods):
    """The env of an AsyncExtension: messaging, its properties and logging."""

    def __init__(self, host: "NodeHost") -> None:
        self._host = host

    def _log_target(self) -> tuple[RunRecord | None, str]:
        return self._host.runtime.record, self._host.name

    async def get_property_to_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        return self._host.properties.get_json(path)

    async def set_property_from_json(self, path: str | None, json_str: str) -> TenError | None:
        return self._host.properties.set_json(path, json_str)

    async def init_property_from_json(self, json_str: str) -> TenError | None:
        store = PropertyStore()
        error = store.set_json(None, json_str)
        if error is None:
            self._host.properties.data = deep_merge(self._host.properties.data, store.data)
        return error

    async def get_property_int(self, path: str) -> tuple[int, TenError | None]:
        return self._host.properties.get_int(path)

    async def get_property_string(self, path: str) -> tuple[str | None, TenError | None]:
        return self._host.properties.get_string(path)

    async def get_property_bool(self, path: str) -> tuple[bool, TenError | None]:
        return self._host.properties.get_bool(path)

    async def get_property_float(self, path: str) -> tuple[float, TenError | None]:
        return self._host.properties.get_float(path)

    async def set_property_int(self, path: str, value: int) -> TenError | None:
        return self._host.properties.set_int(path, value)

    async def set_property_string(self, path: str, value: str) -> TenError | None:
        return self._host.properties.set_string(path, value)

    async def set_property_bool(self, path: str, value: bool) -> TenError | None:
        return self._host.properties.set_bool(path, value)

    async def set_property_float(self, path: str, value: float) -> TenError | None:
        return self._host.properties.set_float(path, value)

    async def is_property_exist(self, path: str) -> tuple[bool, TenError | None]:
        return self._host.properties.exists(path), None
