"""AudioFrame and AudioFrameDataFmt."""

from __future__ import annotations

from enum import IntEnum

from .msg import Msg, _BufferMixin


class AudioFrameDataFmt(IntEnum):
    INTERLEAVE = 1
    NON_INTERLEAVE = 2


class AudioFrame(_BufferMixin, Msg):
    KIND = "audio_frame"

    def _setup(self, name: str) -> None:
        super()._setup(name)
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

    def set_eof(self, is_eof: bool) -> None:
        self._eof = bool(is_eof)
