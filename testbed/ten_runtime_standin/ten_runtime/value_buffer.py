"""value_buffer: in the real runtime, the binary form in which log `fields` cross to the
native layer. The stand-in keeps fields as Python values (see log.py); this module is here
so that imports of it work."""

from __future__ import annotations

from .value import Value


class ValueBufferHeader:
    def __init__(self, magic: int, version: int, type_id: int, size: int) -> None:
        self.magic, self.version, self.type_id, self.size = magic, version, type_id, size


def serialize_to_buffer(value: Value) -> bytes:
    raise NotImplementedError("the TEN stand-in keeps values as Python objects")


def deserialize_from_buffer(buffer: bytes) -> Value:
    raise NotImplementedError("the TEN stand-in keeps values as Python objects")
