"""Data: a named message with properties and a buffer."""

from __future__ import annotations

from .msg import Msg, _BufferMixin


class Data(_BufferMixin, Msg):
    KIND = "data"

    def _setup(self, name: str) -> None:
        super()._setup(name)
        self._init_buf()

    def alloc_buf(self, size: int) -> None:
        if size <= 0:  # as the real runtime
            raise ValueError("Invalid buffer size.")
        super().alloc_buf(size)

    def _copy_payload_from(self, other: Msg) -> None:
        self._copy_buf_from(other)  # type: ignore[arg-type]
