"""A stand-in for the TEN Framework's `ten_runtime` Python package (0.11 line), for running
TEN extension tests where the real runtime cannot be installed. Names, signatures, enum
values and result tuples follow the real API; see README.md for what it reproduces.
Stand-in-only helpers live in `ten_runtime.standin` (not part of the real API)."""

from .addon import Addon, register_addon_as_extension
from .app import App
from .enums import AudioFrameDataFmt, LogLevel, PixelFmt, StatusCode, TenErrorCode
from .error import TenError
from .extension import AsyncExtension, Extension
from .loc import Loc
from .log import DefaultLogOption, LogOption
from .messages import (
    AudioFrame,
    Cmd,
    CmdResult,
    Data,
    Msg,
    StartGraphCmd,
    StopGraphCmd,
    TriggerLifeCycleCmd,
    VideoFrame,
)
from .ten_env import AsyncTenEnv, SendOptions, TenEnv
from .tester import AsyncExtensionTester, AsyncTenEnvTester, ExtensionTester, TenEnvTester
from .value import Value, ValueType

__all__ = [
    "Addon", "register_addon_as_extension", "App", "Extension", "AsyncExtension", "TenEnv",
    "AsyncTenEnv", "SendOptions", "Cmd", "CmdResult", "StatusCode", "Data", "AudioFrame",
    "AudioFrameDataFmt", "VideoFrame", "PixelFmt", "LogLevel", "LogOption", "DefaultLogOption",
    "TenError", "TenErrorCode", "Value", "ValueType", "ExtensionTester", "TenEnvTester",
    "AsyncExtensionTester", "AsyncTenEnvTester", "Loc", "Msg", "StartGraphCmd", "StopGraphCmd",
    "TriggerLifeCycleCmd",
]
