"""TenError: the error value returned (never raised) by runtime calls."""

from __future__ import annotations

from enum import IntEnum


class TenErrorCode(IntEnum):
    ErrorCodeGeneric = 1
    ErrorCodeInvalidJSON = 2
    ErrorCodeInvalidArgument = 3
    ErrorCodeInvalidType = 4
    ErrorCodeInvalidGraph = 5
    ErrorCodeTenIsClosed = 6
    ErrorCodeMsgNotConnected = 7
    ErrorCodeTimeout = 8


# The code a property getter reports for a path that does not exist. The real runtime
# uses it although it is not a TenErrorCode member.
VALUE_NOT_FOUND_CODE = 100000


class TenError:
    def __init__(self, error_code: int, error_message: str | None) -> None:
        self._code = int(error_code)
        self._message = error_message or ""

    @classmethod
    def create(cls, error_code: TenErrorCode | int, error_message: str | None = None) -> "TenError":
        return cls(error_code, error_message)

    def error_code(self) -> int:
        try:
            return TenErrorCode(self._code)
        except ValueError:
            return self._code

    def error_message(self) -> str:
        return self._message

    def __repr__(self) -> str:
        return f"TenError(code={self._code}, message={self._message!r})"

    __str__ = __repr__


def not_found_error(path: str | None) -> TenError:
    return TenError(VALUE_NOT_FOUND_CODE, f"Failed to find value: {path}")


def generic_error(message: str) -> TenError:
    return TenError(TenErrorCode.ErrorCodeGeneric, message)
