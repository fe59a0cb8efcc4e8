"""`SpatiusEmulator`: console and ingress on one aiohttp app, on the caller's event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from .config import EmulatorConfig
from .console import ConsoleHandler, SessionTokens
from .faults import FaultScript
from .ingress import IngressHandler
from .recording import Recording
from .stats import build_stats

T = TypeVar("T")

CONSOLE_BASE_PATH = "/v1/console"
INGRESS_BASE_PATH = "/v2/driveningress"
STATS_PATH = "/_emulator/stats"


class SpatiusEmulator:
    """The Spatius service's far end of the wire, on loopback.

    `await start()` then point the SDK at `console_url` and `ingress_url`; read
    `recording`, script `faults`; `await stop()` closes every socket still open.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.recording = Recording()
        self.faults = FaultScript()
        self._tokens = SessionTokens()
        self._console = ConsoleHandler(self.config, self.faults, self.recording, self._tokens)
        self._ingress = IngressHandler(self.config, self.faults, self.recording, self._tokens)
        self._runner: web.AppRunner | None = None
        self._host = ""
        self._port = 0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(
            CONSOLE_BASE_PATH + "/session-tokens", self._console.create_session_token
        )
        app.router.add_get(INGRESS_BASE_PATH + "/websocket", self._ingress.websocket)
        app.router.add_get(STATS_PATH, self._stats)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        runner = web.AppRunner(self._app(), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._host, self._port = runner.addresses[0][:2]

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self._ingress.close_all()
        await self._runner.cleanup()
        self._runner = None
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError("emulator not started")
        return f"http://{self._host}:{self._port}"

    @property
    def console_url(self) -> str:
        return self.base_url + CONSOLE_BASE_PATH

    @property
    def ingress_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + INGRESS_BASE_PATH

    @property
    def stats_url(self) -> str:
        return self.base_url + STATS_PATH

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Await until `predicate()` is truthy, from the emulator's own loop; return it."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"emulator condition not met within {timeout}s")
            await asyncio.sleep(0.01)
        return result

    async def _stats(self, request: web.Request) -> web.Response:
        with_chunks = request.query.get("chunks", "") in ("1", "true", "yes")
        return web.json_response(build_stats(self.recording, with_chunks=with_chunks))
