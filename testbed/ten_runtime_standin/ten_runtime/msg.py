"""Msg: the common API of every message (name, source, dests, properties), and the
buffer of data and frames.

The runtime hands every receiver its own copy of a message (`_copy_for_delivery`), so a
receiver never sees later changes by the sender and buffers arrive exactly as sent.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .error import TenError
from .loc import Loc
from .property_store import PropertyStore

M = TypeVar("M", bound="Msg")


def _refuse_nul(*args: object) -> None:
    """The real binding parses str arguments as C strings: one holding U+0000 is refused
    before the runtime sees it (observed for paths, values and JSON text alike)."""
    for arg in args:
        if isinstance(arg, str) and "\x00" in arg:
            raise ValueError("Failed to parse arguments.")


class Msg:
    # The message kind used in graph connections and manifest `api` sections.
    KIND = "msg"

    def __init__(self, name: str) -> None:
        # As the real one: messages are made by `create`, never constructed directly.
        raise NotImplementedError(f"Use {type(self).__name__}.create instead.")

    def _setup(self, name: str) -> None:
        """The state of a new message (what `create` sets up; subclasses add theirs)."""
        self._name = name
        self._props = PropertyStore()
        self._source = Loc()
        self._dests: list[Loc] | None = None

    @classmethod
    def _new(cls: type[M], name: str) -> M:
        msg = cls.__new__(cls)
        msg._setup(name)
        return msg

    @classmethod
    def create(cls: type[M], name: str) -> M:
        return cls._new(name)

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
        return Loc(*self.get_source_internal())

    def set_dests(self, locs: list[Loc]) -> TenError | None:
        return self.set_dests_internal(
            [(loc.app_uri, loc.graph_id, loc.extension_name) for loc in locs]
        )

    # The native layer under get_source / set_dests in the real runtime (loc as a tuple).
    def get_source_internal(self) -> tuple[str | None, str | None, str | None]:
        return (self._source.app_uri, self._source.graph_id, self._source.extension_name)

    def set_dests_internal(
        self, locs: list[tuple[str | None, str | None, str | None]]
    ) -> TenError | None:
        self._dests = [Loc(*loc) for loc in locs]
        return None

    # -- properties ----------------------------------------------------------------------------
    def get_property_to_json(self, path: str | None = None) -> tuple[str, TenError | None]:
        _refuse_nul(path)
        return self._props.get_json(path)

    def set_property_from_json(self, path: str | None, json_str: str) -> TenError | None:
        _refuse_nul(path, json_str)
        return self._props.set_json(path, json_str)

    def get_property_int(self, path: str) -> tuple[int, TenError | None]:
        _refuse_nul(path)
        return self._props.get_int(path)

    def set_property_int(self, path: str, value: int) -> TenError | None:
        _refuse_nul(path)
        return self._props.set_int(path, value)

    def get_property_string(self, path: str) -> tuple[str | None, TenError | None]:
        _refuse_nul(path)
        return self._props.get_string(path)

    def set_property_string(self, path: str, value: str) -> TenError | None:
        _refuse_nul(path, value)
        return self._props.set_string(path, value)

    def get_property_bool(self, path: str) -> tuple[bool, TenError | None]:
        _refuse_nul(path)
        return self._props.get_bool(path)

    def set_property_bool(self, path: str, value: bool) -> TenError | None:
        _refuse_nul(path)
        return self._props.set_bool(path, value)

    def get_property_float(self, path: str) -> tuple[float, TenError | None]:
        _refuse_nul(path)
        return self._props.get_float(path)

    def set_property_float(self, path: str, value: float) -> TenError | None:
        _refuse_nul(path)
        return self._props.set_float(path, value)

    def get_property_buf(self, path: str) -> tuple[bytearray, TenError | None]:
        _refuse_nul(path)
        return self._props.get_buf(path)

    def set_property_buf(self, path: str, value: bytes) -> TenError | None:
        _refuse_nul(path)
        return self._props.set_buf(path, value)

    # Stand-in internals: the property object, read by schema checks and recording.
    def _properties(self) -> dict[str, Any]:
        return self._props.data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"


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
