"""The process-wide record of what the scripted peers sent and received, keyed by node
name. Python extensions run in-process under the real runtime too, so tests and
benchmarks can read it while or after the graph runs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


OUTSIDE_CHECK_S = 0.05  # see Registry.wait_until


@dataclass(frozen=True)
class ReceivedMessage:
    kind: str  # "cmd", "data", "audio_frame" or "video_frame"
    name: str
    properties: dict[str, Any]
    source: str | None
    received_at: float  # time.perf_counter()
    buf: bytes | None = None  # frames and data with a buffer
    sample_rate: int = 0
    number_of_channels: int = 0
    bytes_per_sample: int = 0
    samples_per_channel: int = 0


@dataclass(frozen=True)
class SentFrame:
    utterance: int
    seq: int  # frame number across the whole script
    nbytes: int
    sent_at: float  # time.perf_counter() right before send_audio_frame
    due_at: float  # when the pacing schedule wanted it sent


@dataclass(frozen=True)
class SentData:
    name: str
    properties: dict[str, Any]
    sent_at: float


@dataclass
class NodeRecord:
    node: str
    received: list[ReceivedMessage] = field(default_factory=list)
    sent_frames: list[SentFrame] = field(default_factory=list)
    sent_data: list[SentData] = field(default_factory=list)
    # Named moments, e.g. "script_done", "flush_sent", "flush_result" -> perf_counter time.
    events: dict[str, float] = field(default_factory=dict)
    # Results of cmds the node sent: (cmd name, status code or None on error, time).
    cmd_results: list[tuple[str, int | None, float]] = field(default_factory=list)

    def received_of(self, kind: str, name: str | None = None) -> list[ReceivedMessage]:
        return [m for m in self.received if m.kind == kind and (name is None or m.name == name)]

    def frames_sent_in(self, utterance: int) -> int:
        return sum(1 for frame in self.sent_frames if frame.utterance == utterance)


class Registry:
    """Node records plus change notification, so waiters need no polling."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeRecord] = {}
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def node(self, name: str) -> NodeRecord:
        with self._lock:
            record = self._nodes.get(name)
            if record is None:
                record = self._nodes[name] = NodeRecord(name)
            return record

    def nodes(self) -> dict[str, NodeRecord]:
        with self._lock:
            return dict(self._nodes)

    def reset(self) -> None:
        with self._lock:
            self._nodes.clear()

    # -- writers (the peers call these; each wakes the waiters) ---------------------------------
    def add_received(self, node: str, message: ReceivedMessage) -> None:
        self.node(node).received.append(message)
        self.changed()

    def add_sent_frame(self, node: str, frame: SentFrame) -> None:
        self.node(node).sent_frames.append(frame)
        self.changed()

    def add_sent_data(self, node: str, data: SentData) -> None:
        self.node(node).sent_data.append(data)
        self.changed()

    def add_event(self, node: str, event: str, at: float | None = None) -> None:
        self.node(node).events[event] = time.perf_counter() if at is None else at
        self.changed()

    def add_cmd_result(self, node: str, cmd: str, status: int | None) -> None:
        self.node(node).cmd_results.append((cmd, status, time.perf_counter()))
        self.changed()

    def changed(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            if not event.is_set():
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # that waiter's loop is gone
                    pass

    # -- waiting ------------------------------------------------------------------------------
    async def wait_until(self, predicate: Callable[["Registry"], bool], timeout_s: float) -> bool:
        """Waits on the calling loop until predicate(registry) holds; False on timeout.

        Woken by every change of the records, and every OUTSIDE_CHECK_S besides: a predicate
        may look at state the records do not announce (the emulator's recording)."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._lock:
            self._waiters.append(entry)
        deadline = loop.time() + timeout_s
        try:
            while not predicate(self):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                event.clear()
                if predicate(self):  # changed between the check and the clear
                    break
                try:
                    await asyncio.wait_for(event.wait(), min(remaining, OUTSIDE_CHECK_S))
                except asyncio.TimeoutError:
                    pass  # look again (the loop's check), or give up at the deadline
            return True
        finally:
            with self._lock:
                self._waiters.remove(entry)


registry = Registry()
