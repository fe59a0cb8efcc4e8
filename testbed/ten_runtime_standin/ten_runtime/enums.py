"""The runtime's enums, with the exact member values of the real `ten_runtime`."""

from enum import IntEnum


class StatusCode(IntEnum):
    OK = 0
    ERROR = 1


class LogLevel(IntEnum):
    INVALID = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


class AudioFrameDataFmt(IntEnum):
    INTERLEAVE = 1
    NON_INTERLEAVE = 2


class PixelFmt(IntEnum):
    RGB24 = 1
    RGBA = 2
    BGR24 = 3
    BGRA = 4
    I422 = 5
    I420 = 6
    NV21 = 7
    NV12 = 8


class TenErrorCode(IntEnum):
    ErrorCodeGeneric = 1
    ErrorCodeInvalidJSON = 2
    ErrorCodeInvalidArgument = 3
    ErrorCodeInvalidType = 4
    ErrorCodeInvalidGraph = 5
    ErrorCodeTenIsClosed = 6
    ErrorCodeMsgNotConnected = 7
    ErrorCodeTimeout = 8
