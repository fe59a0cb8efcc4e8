"""`EmulatorThread`: the emulator on its own event loop in a daemon thread.

For tests whose main thread blocks (e.g. in a TEN tester's `run()`) while the code under
test runs on yet another loop. Recording and fault script are thread-safe to use from
any thread; `wait_for` blocks the calling thread, never the emulator.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Literal, TypeVar

from .config import EmulatorConfig
from .faults import FaultScript
from .recording import ConnectionRecord, Recording, RequestRecord
from .server import SpatiusEmulator

T = TypeVar("T")
_Self = TypeVar("_Self", bound="EmulatorThread")  # typing.Self is Python 3.11+

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class EmulatorThread:
    def __init__(
        self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.emulator = SpatiusEmulator(config)
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle ---------------------------------------------------------------
    def start(self: _Self) -> _Self:
        if self._thread is not None:
            raise RuntimeError("emulator thread already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.emulator.start(self._host, self._port))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="spatius-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise TimeoutError("the emulator did not start")
        if failure:
            self._thread = None
            raise RuntimeError("the emulator failed to start") from failure[0]
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.emulator.stop(), loop)
        try:
            future.result(STOP_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_TIMEOUT_S)
            self._thread = None

    def __enter__(self: _Self) -> _Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- what the emulator offers -------------------------------------------------
    @property
    def config(self) -> EmulatorConfig:
        return self.emulator.config

    @property
    def recording(self) -> Recording:
        return self.emulator.recording

    @property
    def faults(self) -> FaultScript:
        return self.emulator.faults

    @property
    def console_url(self) -> str:
        return self.emulator.console_url

    @property
    def ingress_url(self) -> str:
        return self.emulator.ingress_url

    @property
    def stats_url(self) -> str:
        return self.emulator.stats_url

    # ---- waiting ------------------------------------------------------------------
    def wait_for(
        self, predicate: Callable[[], T | Literal[False] | None], timeout: float = 5.0
    ) -> T:
        """Block until `predicate()` is truthy; return its value (TimeoutError otherwise)."""
        return self.recording.wait_for(predicate, timeout)

    def wait_for_sessions(self, count: int = 1, timeout: float = 5.0) -> list[ConnectionRecord]:
        """Block until `count` handshakes were confirmed; return those sessions."""
        return self.wait_for(
            lambda: (s := self.recording.sessions) and len(s) >= count and s, timeout
        )

    def wait_for_connections(self, count: int = 1, timeout: float = 5.0) -> list[ConnectionRecord]:
        """Block until `count` connection attempts (refused ones included) arrived."""
        return self.wait_for(
            lambda: (c := self.recording.connections) and len(c) >= count and c, timeout
        )

    def wait_for_closed(self, count: int = 1, timeout: float = 5.0) -> list[ConnectionRecord]:
        """Block until `count` connections are closed; return the closed ones."""

        def closed() -> list[ConnectionRecord]:
            done = [c for c in self.recording.connections if c.closed]
            return done if len(done) >= count else []

        return self.wait_for(closed, timeout)

    def wait_for_ended_requests(self, count: int = 1, timeout: float = 5.0) -> list[RequestRecord]:
        """Block until `count` requests (over all sessions) got their `end`; return them."""

        def ended() -> list[RequestRecord]:
            done = [r for s in self.recording.sessions for r in s.requests if r.ended]
            return done if len(done) >= count else []

        return self.wait_for(ended, timeout)
