"""A minimal Value/ValueType: enough for log `fields` and code that only passes them on."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ValueType(IntEnum):
    INVALID = 0
    BOOL = 1
    INT = 2
    FLOAT = 3
    STRING = 4
    BYTES = 5
    ARRAY = 6
    OBJECT = 7
    JSON_STRING = 8


class Value:
    def __init__(self, value_type: ValueType, data: Any) -> None:
        self._type = value_type
        self._data = data

    @staticmethod
    def from_bool(value: bool) -> "Value":
        return Value(ValueType.BOOL, bool(value))

    @staticmethod
    def from_int(value: int) -> "Value":
        return Value(ValueType.INT, int(value))

    @staticmethod
    def from_float(value: float) -> "Value":
        return Value(ValueType.FLOAT, float(value))

    @staticmethod
    def from_string(value: str) -> "Value":
        return Value(ValueType.STRING, str(value))

    @staticmethod
    def from_bytes(value: bytes) -> "Value":
        return Value(ValueType.BYTES, bytes(value))

    @staticmethod
    def from_array(value: list["Value"]) -> "Value":
        return Value(ValueType.ARRAY, list(value))

    @staticmethod
    def from_object(value: dict[str, "Value"]) -> "Value":
        return Value(ValueType.OBJECT, dict(value))

    @staticmethod
    def from_json_string(value: str) -> "Value":
        return Value(ValueType.JSON_STRING, str(value))

    def get_type(self) -> ValueType:
        return self._type

    def get_bool(self) -> bool:
        return self._expect(ValueType.BOOL)

    def get_int(self) -> int:
        return self._expect(ValueType.INT)

    def get_float(self) -> float:
        return self._expect(ValueType.FLOAT)

    def get_string(self) -> str:
        return self._expect(ValueType.STRING)

    def get_bytes(self) -> bytes:
        return self._expect(ValueType.BYTES)

    def get_array(self) -> list["Value"]:
        return self._expect(ValueType.ARRAY)

    def get_object(self) -> dict[str, "Value"]:
        return self._expect(ValueType.OBJECT)

    def get_json_string(self) -> str:
        return self._expect(ValueType.JSON_STRING)

    def to_python(self) -> Any:
        """Plain Python data (the stand-in records log fields this way)."""
        if self._type is ValueType.ARRAY:
            return [item.to_python() for item in self._data]
        if self._type is ValueType.OBJECT:
            return {key: item.to_python() for key, item in self._data.items()}
        return self._data

    def _expect(self, value_type: ValueType) -> Any:
        if self._type is not value_type:
            raise TypeError(f"Value holds {self._type.name}, not {value_type.name}")
        return self._data

    def __repr__(self) -> str:
        return f"Value({self._type.name}, {self._data!r})"
