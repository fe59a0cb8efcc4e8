"""TenEnv: the synchronous env of an addon's on_create_instance and of an App's callbacks
(and, inside the stand-in, what an AsyncTenEnv is built on, as in the real runtime)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .error import TenError
from .property_store import PropertyStore
from .recording import RunRecord
from .ten_env_base import TenEnvBase

if TYPE_CHECKING:
    from .node_host import NodeHost


@dataclass
class EnvTarget:
    """Stand-in internal: what a TenEnv is attached to (the real one wraps a native env)."""

    record: RunRecord | None
    node: str
    on_done: Callable[[str, tuple[Any, ...]], None] = lambda _what, _args: None
    host: "NodeHost | None" = None  # the graph node, for the env of an extension
    properties: PropertyStore = field(default_factory=PropertyStore)


class TenEnv(TenEnvBase):
    def __init__(self, internal_obj: EnvTarget) -> None:
        self._internal = internal_obj

    def _log_target(self) -> tuple[RunRecord | None, str]:
        return self._internal.record, self._internal.node

    def on_create_instance_done(self, instance: object, context: object) -> None:
        self._internal.on_done("create_instance", (instance, context))

    def on_configure_done(self) -> None:
        self._internal.on_done("configure", ())

    def on_init_done(self) -> None:
        self._internal.on_done("init", ())

    def on_start_done(self) -> None:
        self._internal.on_done("start", ())

    def on_stop_done(self) -> None:
        self._internal.on_done("stop", ())

    def on_deinit_done(self) -> None:
        self._internal.on_done("deinit", ())

    # -- properties of what the env is attached to ---------------------------------------------
    def init_property_from_json(self, json_str: str) -> TenError | None:
        return self._internal.properties.set_json(None, json_str)

    def get_property_to_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        return self._internal.properties.get_json(path)

    def set_property_from_json(self, path: str, json_str: str) -> TenError | None:
        return self._internal.properties.set_json(path, json_str)

    def is_property_exist(self, path: str) -> tuple[bool, TenError | None]:
        return self._internal.properties.exists(path), None

    def get_property_int(self, path: str) -> tuple[int, TenError | None]:
        return self._internal.properties.get_int(path)

    def set_property_int(self, path: str, value: int) -> TenError | None:
        return self._internal.properties.set_int(path, value)

    def get_property_string(self, path: str) -> tuple[str, TenError | None]:
        return self._internal.properties.get_string(path)  # type: ignore[return-value]

    def set_property_string(self, path: str, value: str) -> TenError | None:
        return self._internal.properties.set_string(path, value)

    def get_property_bool(self, path: str) -> tuple[bool, TenError | None]:
        return self._internal.properties.get_bool(path)

    def set_property_bool(self, path: str, value: bool) -> TenError | None:
        return self._internal.properties.set_bool(path, value)

    def get_property_float(self, path: str) -> tuple[float, TenError | None]:
        return self._internal.properties.get_float(path)

    def set_property_float(self, path: str, value: float) -> TenError | None:
        return self._internal.properties.set_float(path, value)

    # -- sending: the synchronous env of a running extension only --------------------------------
    # The stand-in runs AsyncExtension only; the TenEnv of an addon or of the App has no
    # graph node to send from. The signatures are the real ones.
    def send_cmd(self, cmd: Any, result_handler: Any = None) -> TenError | None:
        raise _no_sync_sending()

    def send_cmd_ex(self, cmd: Any, result_handler: Any = None) -> TenError | None:
        raise _no_sync_sending()

    def send_data(self, data: Any, error_handler: Any = None) -> TenError | None:
        raise _no_sync_sending()

    def send_video_frame(self, video_frame: Any, error_handler: Any = None) -> TenError | None:
        raise _no_sync_sending()

    def send_audio_frame(self, audio_frame: Any, error_handler: Any = None) -> TenError | None:
        raise _no_sync_sending()

    def return_result(self, result: Any, error_handler: Any = None) -> TenError | None:
        raise _no_sync_sending()


def _no_sync_sending() -> NotImplementedError:
    return NotImplementedError(
        "the TEN stand-in runs AsyncExtension only: send through the AsyncTenEnv an "
        "AsyncExtension gets (a TenEnv here belongs to an addon or the App)"
    )
