"""A loopback emulator of the Spatius service (console + ingress), for tests and demos.

It speaks the real wire protocol (the SDK's own protobuf schema over a real WebSocket),
answers with the real service's error shapes, records everything it receives and can
be scripted to misbehave. Needs `testbed/` on sys.path.
"""

from .config import EmulatorConfig
from .faults import FaultScript, Trigger
from .process import EmulatorProcess
from .recording import (
    AgoraEgress,
    AudioChunk,
    ConnectionRecord,
    Interrupt,
    Recording,
    RequestRecord,
    SentError,
    TokenRequestRecord,
)
from .server import CONSOLE_BASE_PATH, INGRESS_BASE_PATH, STATS_PATH, SpatiusEmulator
from .threaded import EmulatorThread

__all__ = [
    "AgoraEgress",
    "AudioChunk",
    "CONSOLE_BASE_PATH",
    "ConnectionRecord",
    "EmulatorConfig",
    "EmulatorProcess",
    "EmulatorThread",
    "FaultScript",
    "INGRESS_BASE_PATH",
    "Interrupt",
    "Recording",
    "RequestRecord",
    "STATS_PATH",
    "SentError",
    "SpatiusEmulator",
    "TokenRequestRecord",
    "Trigger",
]
