"""Messages: Cmd, CmdResult, Data, AudioFrame, VideoFrame, with the common Msg API.

The runtime hands every receiver its own copy of a message (`_copy_for_delivery`), so a
receiver never sees later changes by the sender and buffers arrive exactly as sent.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from .enums import AudioFrameDataFmt, PixelFmt, StatusCode
from .error import TenError
from .loc import Loc
from .property_store import PropertyStore

M = TypeVar("M", bound="Msg")


class Msg:
    # The message kind used in graph connections and manifest `api` sections.
    KIND = "msg"

    def __init__(self, name: str = "") -> None:
        self._name = name
        self._props = PropertyStore()
        self._source = Loc()
        self._dests: list[Loc] | None = None

    @classmethod
    def create(cls: type[M], name: str) -> M:
        return cls(name)

    def clone(self: M) -> M:
        twin = self.__class__.__new__(self.__class__)
        twin.__dict__.update(self.__dict__)
        twin._props = self._props.copy()
        twin._dests = list(self._dests) if self._dests is not None else None
        twin._copy_payload_from(self)
        return twin

    def _copy_payload_from(self, other: "Msg") -> None:
        """Subclasses with buffers copy them here."""

    def _copy_for_delivery(self: M, source: Loc) -> M:
        twin = self.clone()
        twin._source = source
        twin._dests = None
        return twin

    # -- name, source, dests -----------------------------------------------------------------
    def get_name(self) -> str:
        return self._name

    def set_name(self, name: str) -> TenError | None:
        self._name = name
        return None

    def get_source(self) -> Loc:
        return self._source

    def set_dests(self, dests: list[Loc]) -> TenError | None:
        self._dests = list(dests)
        return None

    # -- properties ----------------------------------------------------------------------------
    def get_property_to_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        return self._props.get_json(path)

    def set_property_from_json(self, path: str | None, json_str: str) -> TenError | None:
        return self._props.set_json(path, json_str)

    def get_property_int(self, path: str) -> tuple[int, TenError | None]:
        return self._props.get_int(path)

    def set_property_int(self, path: str, value: int) -> TenError | None:
        return self._props.set_int(path, value)

    def get_property_string(self, path: str) -> tuple[str | None, TenError | None]:
        return self._props.get_string(path)

    def set_property_string(self, path: str, value: str) -> TenError | None:
        return self._props.set_string(path, value)

    def get_property_bool(self, path: str) -> tuple[bool, TenError | None]:
        return self._props.get_bool(path)

    def set_property_bool(self, path: str, value: bool) -> TenError | None:
        return self._props.set_bool(path, value)

    def get_property_float(self, path: str) -> tuple[float, TenError | None]:
        return self._props.get_float(path)

    def set_property_float(self, path: str, value: float) -> TenError | None:
        return self._props.set_float(path, value)

    def get_property_buf(self, path: str) -> tuple[bytearray, TenError | None]:
        return self._props.get_buf(path)

    def set_property_buf(self, path: str, value: bytes) -> TenError | None:
        return self._props.set_buf(path, value)

    # Stand-in internals: the property object, read by schema checks and recording.
    def _properties(self) -> dict[str, Any]:
        return self._props.data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"


class Cmd(Msg):
    KIND = "cmd"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        # Set by the runtime when the cmd is sent; results find their way back by it.
        self._cmd_id: str = ""


class StartGraphCmd(Cmd):
    @classmethod
    def create(cls, name: str = "ten:start_graph") -> "StartGraphCmd":
        return cls(name)


class StopGraphCmd(Cmd):
    @classmethod
    def create(cls, name: str = "ten:stop_graph") -> "StopGraphCmd":
        return cls(name)


class TriggerLifeCycleCmd(Cmd):
    @classmethod
    def create(cls, name: str = "ten:trigger_life_cycle") -> "TriggerLifeCycleCmd":
        return cls(name)


class CmdResult(Msg):
    KIND = "cmd_result"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._status = StatusCode.OK
        self._final = True
        self._cmd_id = ""

    @classmethod
    def create(cls, status_code: StatusCode, target_cmd: Cmd) -> "CmdResult":  # type: ignore[override]
        result = cls(target_cmd.get_name())
        result._status = StatusCode(status_code)
        result._cmd_id = target_cmd._cmd_id
        return result

    def get_status_code(self) -> StatusCode:
        return self._status

    def set_final(self, is_final: bool) -> TenError | None:
        self._final = bool(is_final)
        return None

    def is_final(self) -> bool:
        return self._final

    def is_completed(self) -> bool:
        # One destination per cmd result in the stand-in: the final result completes it.
        return self._final


class _BufferMixin:
    """alloc_buf / lock_buf / unlock_buf / get_buf over one bytearray."""

    _buf: bytearray
    _locked: memoryview | None

    def _init_buf(self) -> None:
        self._buf = bytearray()
        self._locked = None

    def alloc_buf(self, size: int) -> None:
        self._buf = bytearray(size)

    def lock_buf(self) -> memoryview:
        if self._locked is not None:
            raise RuntimeError("the buffer is already locked")
        self._locked = memoryview(self._buf)
        return self._locked

    def unlock_buf(self, buf: memoryview) -> None:
        if self._locked is None or buf is not self._locked:
            raise RuntimeError("unlock_buf with a buffer that is not the locked one")
        self._locked.release()
        self._locked = None

    def get_buf(self) -> bytearray:
        return bytearray(self._buf)

    def _copy_buf_from(self, other: "_BufferMixin") -> None:
        self._buf = bytearray(other._buf)
        self._locked = None


class Data(_BufferMixin, Msg):
    KIND = "data"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._init_buf()

    def alloc_buf(self, size: int) -> None:
        if size <= 0:  # as the real runtime
            raise ValueError("Invalid buffer size.")
        super().alloc_buf(size)

    def _copy_payload_from(self, other: Msg) -> None:
        self._copy_buf_from(other)  # type: ignore[arg-type]


class AudioFrame(_BufferMixin, Msg):
    KIND = "audio_frame"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._init_buf()
        # Fields the sender does not set read back as 0 / False.
        self._timestamp = 0
        self._sample_rate = 0
        self._samples_per_channel = 0
        self._bytes_per_sample = 0
        self._number_of_channels = 0
        # The real runtime initializes the layout to interleaved.
        self._data_fmt = AudioFrameDataFmt.INTERLEAVE
        self._line_size = 0
        self._eof = False

    def _copy_payload_from(self, other: Msg) -> None:
        self._copy_buf_from(other)  # type: ignore[arg-type]

    def alloc_buf(self, size: int) -> None:
        # The real runtime refuses an empty (or negative) audio buffer; a frame that is
        # never given a buffer is empty.
        if size <= 0:
            raise ValueError("Invalid audio frame size.")
        super().alloc_buf(size)

    def get_timestamp(self) -> int:
        return self._timestamp

    def set_timestamp(self, timestamp: int) -> None:
        self._timestamp = int(timestamp)

    def get_sample_rate(self) -> int:
        return self._sample_rate

    def set_sample_rate(self, sample_rate: int) -> None:
        self._sample_rate = int(sample_rate)

    def get_samples_per_channel(self) -> int:
        return self._samples_per_channel

    def set_samples_per_channel(self, samples_per_channel: int) -> None:
        self._samples_per_channel = int(samples_per_channel)

    def get_bytes_per_sample(self) -> int:
        return self._bytes_per_sample

    def set_bytes_per_sample(self, bytes_per_sample: int) -> None:
        self._bytes_per_sample = int(bytes_per_sample)

    def get_number_of_channels(self) -> int:
        return self._number_of_channels

    def set_number_of_channels(self, number_of_channels: int) -> None:
        self._number_of_channels = int(number_of_channels)

    def get_data_fmt(self) -> AudioFrameDataFmt:
        return self._data_fmt

    def set_data_fmt(self, data_fmt: AudioFrameDataFmt) -> None:
        self._data_fmt = AudioFrameDataFmt(data_fmt)

    def get_line_size(self) -> int:
        return self._line_size

    def set_line_size(self, line_size: int) -> None:
        self._line_size = int(line_size)

    def is_eof(self) -> bool:
        return self._eof

    def set_eof(self, eof: bool) -> None:
        self._eof = bool(eof)


class VideoFrame(_BufferMixin, Msg):
    KIND = "video_frame"

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._init_buf()
        self._width = 0
        self._height = 0
        self._timestamp = 0
        self._pixel_fmt = PixelFmt.RGBA
        self._eof = False

    def _copy_payload_from(self, other: Msg) -> None:
        self._copy_buf_from(other)  # type: ignore[arg-type]

    def get_width(self) -> int:
        return self._width

    def set_width(self, width: int) -> None:
        self._width = int(width)

    def get_height(self) -> int:
        return self._height

    def set_height(self, height: int) -> None:
        self._height = int(height)

    def get_timestamp(self) -> int:
        return self._timestamp

    def set_timestamp(self, timestamp: int) -> None:
        self._timestamp = int(timestamp)

    def get_pixel_fmt(self) -> PixelFmt:
        return self._pixel_fmt

    def set_pixel_fmt(self, pixel_fmt: PixelFmt) -> None:
        self._pixel_fmt = PixelFmt(pixel_fmt)

    def is_eof(self) -> bool:
        return self._eof

    def set_eof(self, eof: bool) -> None:
        self._eof = bool(eof)


def new_cmd_id() -> str:
    return uuid.uuid4().hex


def error_result_for(cmd: Cmd, detail: str) -> CmdResult:
    """The automatic ERROR result the runtime gives a cmd it will not deliver or answer."""
    result = CmdResult.create(StatusCode.ERROR, cmd)
    result.set_property_string("detail", detail)
    return result


__all__ = [
    "Msg", "Cmd", "CmdResult", "Data", "AudioFrame", "VideoFrame", "StartGraphCmd",
    "StopGraphCmd", "TriggerLifeCycleCmd", "new_cmd_id", "error_result_for",
]
