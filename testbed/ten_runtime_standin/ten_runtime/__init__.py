"""A stand-in for the TEN Framework's `ten_runtime` Python package (0.11 line), for running
TEN extension tests where the real runtime cannot be installed. Its modules are the real
package's (`async_ten_env`, `cmd`, `audio_frame`, ...), each holding the same names, so
any TEN extension's imports work; signatures and enum values follow the real API. See
README.md for what it reproduces. Stand-in-only helpers live in `ten_runtime.standin`
(not part of the real API), its machinery in modules the real package does not have."""

from .addon import Addon
from .addon_manager import register_addon_as_extension
from .app import App
from .async_extension import AsyncExtension
from .async_ten_env import AsyncTenEnv
from .async_test import AsyncExtensionTester, AsyncTenEnvTester
from .audio_frame import AudioFrame, AudioFrameDataFmt
from .cmd import Cmd
from .cmd_result import CmdResult, StatusCode
from .data import Data
from .error import TenError, TenErrorCode
from .extension import Extension
from .loc import Loc
from .log_level import LogLevel
from .log_option import DefaultLogOption, LogOption
from .send_options import SendOptions
from .start_graph_cmd import StartGraphCmd
from .stop_graph_cmd import StopGraphCmd
from .ten_env import TenEnv
from .test import ExtensionTester, TenEnvTester
from .trigger_life_cycle_cmd import TriggerLifeCycleCmd
from .value import Value, ValueType
from .video_frame import PixelFmt, VideoFrame

__all__ = [
    "Addon",
    "register_addon_as_extension",
    "App",
    "Extension",
    "AsyncExtension",
    "TenEnv",
    "TenErrorCode",
    "AsyncTenEnv",
    "SendOptions",
    "Cmd",
    "StatusCode",
    "StartGraphCmd",
    "StopGraphCmd",
    "TriggerLifeCycleCmd",
    "VideoFrame",
    "AudioFrame",
    "Data",
    "CmdResult",
    "PixelFmt",
    "AudioFrameDataFmt",
    "LogLevel",
    "LogOption",
    "DefaultLogOption",
    "ExtensionTester",
    "TenEnvTester",
    "TenError",
    "Value",
    "ValueType",
    "AsyncExtensionTester",
    "AsyncTenEnvTester",
    "Loc",
]
