"""The stable text of a failure: its code and the phase it happened in.

Graph authors and dashboards match on this text (`vendor_info.code` of the `error` data,
the logs), so a value never changes once released. The codes the SDK reports keep the
SDK's own enum (`AvatarSDKErrorCode`, already stable text); the extension adds two.
"""

from __future__ import annotations

import enum
import sys

from spatius import AvatarSDKErrorCode

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, enum.Enum):
        """enum.StrEnum of Python 3.11 for 3.10 (TEN's Python): str() and format() give
        the value. A plain `(str, Enum)` formats as "Class.member" on Python 3.11+."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class ExtensionErrorCode(StrEnum):
    """The codes the extension reports itself, next to the SDK's."""

    AUDIO_DROPPED = "audioDropped"  # not ready for too long: the oldest waiting audio dropped
    INTERNAL_ERROR = "internalError"  # a bug of ours, caught and reported once


ErrorCode = AvatarSDKErrorCode | ExtensionErrorCode


class Phase(StrEnum):
    """Where a failure happened."""

    # The SDK's (AvatarSDKError.phase), with its text:
    SESSION_TOKEN = "session_token"
    WEBSOCKET_CONNECT = "websocket_connect"
    WEBSOCKET_HANDSHAKE = "websocket_handshake"
    WEBSOCKET_RUNTIME = "websocket_runtime"
    WEBSOCKET_SEND = "websocket_send"
    UNKNOWN = "unknown"  # the SDK's default, and anything not classified
    # The extension's:
    CONNECT = "connect"  # no answer in time while connecting
    CONFIGURE = "configure"  # the SDK refused the configuration before connecting
    BUFFER = "buffer"  # audio waiting while the session is not ready
    TURNS = "turns"  # audio of a turn a newer one superseded
    INTERNAL = "internal"  # inside the extension

    @classmethod
    def of(cls, text: str) -> Phase:
        """The phase an SDK error names; UNKNOWN for one this version does not know
        (tests/unit/test_failure_codes.py fails when the installed SDK has such a phase)."""
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN
