"""AsyncExtensionTester: runs one extension (single mode) or a whole graph with the tester
as one more node, on a test app of its own; `run()` blocks until `stop_test`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .error import TenError
from .graph import GraphSpec, parse_graph, single_mode_graph
from .log import LogMethods
from .recording import RunRecord
from .ten_env import MessagingMethods

if TYPE_CHECKING:
    from .messages import AudioFrame, Cmd, Data, VideoFrame
    from .node_host import NodeHost

DEFAULT_TIMEOUT_S = 180.0


class AsyncTenEnvTester(MessagingMethods, LogMethods):
    def __init__(self, host: "NodeHost") -> None:
        self._host = host

    def _log_target(self) -> tuple[RunRecord | None, str]:
        return self._host.runtime.record, self._host.name

    def stop_test(self, error: TenError | None = None) -> None:
        self._host.runtime.request_stop(error)


class AsyncExtensionTester:
    def __init__(self) -> None:
        self._graph_source: tuple[str, str, str | None] | None = None
        self._timeout_s = DEFAULT_TIMEOUT_S

    def set_test_mode_single(self, addon_name: str, property_json_str: str | None = None) -> TenError | None:
        self._graph_source = ("single", addon_name, property_json_str)
        return None

    def set_test_mode_graph(self, graph_json: str) -> TenError | None:
        self._graph_source = ("graph", graph_json, None)
        return None

    def set_timeout(self, timeout_us: int) -> None:
        self._timeout_s = timeout_us / 1_000_000

    def run(self) -> TenError | None:
        """Blocks until the tester calls stop_test (returns its error) or the timeout passes
        (returns an ErrorCodeTimeout error). Raises ten_runtime.standin.StandinRunError when
        the run fails fatally (the real process would exit)."""
        from .runtime import GraphRuntime  # late: runtime imports this module's siblings

        runtime = GraphRuntime(self._graph_spec(), self, AsyncTenEnvTester,
                               getattr(self, "_timeout_s", DEFAULT_TIMEOUT_S))
        return runtime.run()

    def _graph_spec(self) -> GraphSpec:
        source = getattr(self, "_graph_source", None)
        if source is None:
            raise RuntimeError("call set_test_mode_single or set_test_mode_graph before run()")
        mode, first, second = source
        return single_mode_graph(first, second) if mode == "single" else parse_graph(first)

    # -- callbacks to override --------------------------------------------------------------------
    async def on_init(self, ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_stop(self, ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_deinit(self, ten_env: AsyncTenEnvTester) -> None:
        pass

    async def on_cmd(self, ten_env: AsyncTenEnvTester, cmd: "Cmd") -> None:
        pass

    async def on_data(self, ten_env: AsyncTenEnvTester, data: "Data") -> None:
        pass

    async def on_audio_frame(self, ten_env: AsyncTenEnvTester, audio_frame: "AudioFrame") -> None:
        pass

    async def on_video_frame(self, ten_env: AsyncTenEnvTester, video_frame: "VideoFrame") -> None:
        pass


class ExtensionTester:
    """The synchronous tester: the stand-in supports only AsyncExtensionTester."""

    def __init__(self) -> None:
        raise NotImplementedError("the TEN stand-in supports AsyncExtensionTester only")


class TenEnvTester:
    def __init__(self) -> None:
        raise NotImplementedError("the TEN stand-in supports AsyncTenEnvTester only")
