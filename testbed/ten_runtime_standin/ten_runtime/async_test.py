"""AsyncExtensionTester: runs one extension (single mode) or a whole graph with the tester
as one more node, on a test app of its own; `run()` blocks until `stop_test`. And
AsyncTenEnvTester, the tester's env."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from .async_ten_env import MessagingMethods
from .cmd_result import CmdResult
from .error import TenError
from .graph import GraphSpec, parse_graph, single_mode_graph
from .send_options import SendOptions
from .test import TenEnvTester
from .test_base import TenEnvTesterBase

if TYPE_CHECKING:
    from .audio_frame import AudioFrame
    from .cmd import Cmd
    from .data import Data
    from .node_host import NodeHost
    from .video_frame import VideoFrame

DEFAULT_TIMEOUT_S = 180.0


class AsyncTenEnvTester(MessagingMethods, TenEnvTesterBase):
    def __init__(
        self,
        ten_env_tester: TenEnvTester,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
    ) -> None:
        self._ten_env_tester = ten_env_tester
        self._ten_env_loop = loop
        self._ten_env_thread = thread
        self._host = ten_env_tester._host

    async def return_result(
        self, cmd_result: CmdResult, options: SendOptions | None = None
    ) -> TenError | None:
        # The real tester env names the parameter cmd_result (the extension env: result).
        return await MessagingMethods.return_result(self, cmd_result, options)


class AsyncExtensionTester:
    def __init__(self) -> None:
        self._graph_source: tuple[str, str, str | None] | None = None
        self._timeout_s = DEFAULT_TIMEOUT_S

    def set_test_mode_single(self, addon_name: str, property_json_str: str | None = None) -> None:
        self._graph_source = ("single", addon_name, property_json_str)

    def set_test_mode_graph(self, graph_json: str) -> None:
        self._graph_source = ("graph", graph_json, None)

    def set_timeout(self, timeout_us: int) -> None:
        self._timeout_s = timeout_us / 1_000_000

    def run(self) -> TenError | None:
        """Blocks until the tester calls stop_test (returns its error) or the timeout passes
        (returns an ErrorCodeTimeout error). Raises ten_runtime.standin.StandinRunError when
        the run fails fatally (the real process would exit)."""
        from .runtime import GraphRuntime  # late: runtime imports this module's siblings

        runtime = GraphRuntime(
            self._graph_spec(), self, _tester_env, getattr(self, "_timeout_s", DEFAULT_TIMEOUT_S)
        )
        return runtime.run()

    def _graph_spec(self) -> GraphSpec:
        source = getattr(self, "_graph_source", None)
        if source is None:
            raise RuntimeError("call set_test_mode_single or set_test_mode_graph before run()")
        mode, first, second = source
        return single_mode_graph(first, second) if mode == "single" else parse_graph(first)

    # -- callbacks to override --------------------------------------------------------------------
    async def on_init(self, _ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_start(self, _ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_stop(self, _ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_deinit(self, _ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_cmd(self, _ten_env: AsyncTenEnvTester, _cmd: "Cmd") -> None:
        pass

    async def on_data(self, _ten_env: AsyncTenEnvTester, _data: "Data") -> None:
        pass

    async def on_audio_frame(self, _ten_env: AsyncTenEnvTester, _audio_frame: "AudioFrame") -> None:
        pass

    async def on_video_frame(self, _ten_env: AsyncTenEnvTester, _video_frame: "VideoFrame") -> None:
        pass


def _tester_env(host: "NodeHost") -> AsyncTenEnvTester:
    return AsyncTenEnvTester(TenEnvTester(host), host.loop_thread.loop, host.loop_thread.thread)
